"""The words in the sample ledgers: line texts, suppliers and references, as finance staff type them.

Texts deliberately carry what real ledgers carry and readers trip over: commas, double quotes,
apostrophes, accented and Welsh letters (é, ø, ł, ß, ŵ), ampersands and slashes. A person who is a
supplier is published as ``REDACTED PERSONAL DATA`` (the forces publish their spending with personal
data removed).
"""

from __future__ import annotations

PERSON = "REDACTED PERSONAL DATA"
TEXT_LIMIT = 50

#: line texts per role; ``{month}`` is e.g. ``Apr 2016``, ``{centre}`` the cost centre's name
ROLE_TEXTS: dict[str, tuple[str, ...]] = {
    "off_sal": ("Police officer pay {month}", "Officer salaries {month} - {centre}"),
    "off_ni": ("Officer employer NI {month}",),
    "off_ot": ("Officer overtime {month}", "Overtime, rest days in lieu {month}"),
    "off_pen": ("Police pension employer cont. {month}",),
    "stf_sal": ("Police staff pay {month}", "Staff salaries {month} - {centre}"),
    "stf_ni": ("Staff employer NI {month}",),
    "stf_ot": ("Staff overtime {month}",),
    "stf_pen": ("LGPS employer contributions {month}",),
    "pcso_sal": ("PCSO pay {month}",),
    "injury_pen": ("Injury awards {month}", "Ill-health pensions {month}"),
    "training": ("Course fees, College of Policing", "Public order training – Tidworth",
                 "Taser \"X2\" instructor course", "Conference fees: NPCC finance"),
    "recruitment": ("Recruitment advertising, PCSO intake", "Assessment centre – Bristol",
                    "Vetting checks, new recruits"),
    "travel": ("Rail fares, London meetings", "Hotel – Premier Inn Bristol", "Subsistence, Op Hélène",
               "Taxi, late turn – Clifton", "Mileage: Bath to Portishead"),
    "rent": ("Rent quarter to {month}", "Lease – Patchway Police Centre", "Rent, Melksham hub"),
    "rates": ("Business rates {month}", "NNDR instalment {month}"),
    "energy": ("Electricity {month}", "Gas supply {month}", "Energy, HQ \"Valley Road\""),
    "cleaning": ("Cleaning contract {month}", "Window cleaning, custody suite"),
    "repairs": ("Reactive repairs – boiler", "Roof repair, Trowbridge station", "Lift service, HQ"),
    "fuel": ("Fuel card transactions {month}", "Diesel, bulk delivery", "Fuel – Allstar card"),
    "vehicle_repairs": ("Vehicle servicing {month}", "Tyres, response cars", "Accident repair, BMW 330d"),
    "vehicle_lease": ("Vehicle lease {month}", "Contract hire, pool cars"),
    "car_allow": ("Essential car user allowance {month}", "Car allowance {month}"),
    "equipment": ("Operational equipment", "Body armour, officer issue", "Radios and batteries",
                  "Handcuffs, rigid \"Hiatt\" 2010", "Straßensperre barriers (event)", "Café furniture, canteen"),
    "uniform": ("Uniform issue {month}", "Hi-vis jackets, size L/XL", "Boots, \"Magnum\" Elite"),
    "forensic": ("Forensic submissions {month}", "DNA analysis – Op Ørsted", "Toxicology, urgent",
                 "Digital forensics, phones"),
    "custody_health": ("Custody healthcare {month}", "Forensic medical examiner call-outs"),
    "printing": ("Stationery {month}", "Postage, franking machine", "Printing, \"Stop & Search\" leaflets"),
    "prof_fees": ("Legal advice, employment tribunal", "Consultancy services", "Interpreter – Łódź dialect",
                  "Translation – Cymraeg/Welsh (ŵ, ŷ)", "Audit fees {month}", "Counsel's fees, inquest"),
    "air_support": ("NPAS contribution {month}", "Air support, quarterly charge"),
    "bwv_storage": ("Body worn video storage {month}", "BWV cloud storage – evidence.com"),
    "telephony": ("Airwave service charge {month}", "Mobile phones {month}", "Telephony, control room"),
    "software": ("Software licences {month}", "Niche RMS support", "Microsoft EA true-up, 2nd year"),
    "hardware": ("Laptops (Dell Latitude)", "Servers, data centre", "Mobile data terminals"),
    "pay_la": ("Contribution to local authority", "Community safety partnership", "CCTV contract, B&NES"),
    "pay_agencies": ("Victim services grant", "Commissioned services: IDVA", "Youth diversion, \"Resolve\""),
    "part_pay": ("Dog training, Wiltshire school", "Alliance recharge – dog training {month}"),
    "inc_part": ("Brunel contribution {month}", "Dog training recharge {month}"),
    "interest": ("PWLB interest", "Interest on borrowing, half year"),
    "mrp": ("Minimum revenue provision", "MRP charge for the year"),
    "rcco": ("Revenue contribution to capital", "RCCO, vehicles and ICT"),
    "inc_fees": ("Firearms licence fees", "Vehicle recovery fees", "Collision report fees",
                 "Data protection, subject access fees"),
    "inc_sps": ("Special police services, football", "Policing, Glastonbury Festival", "Event policing – Ashton Court"),
    "inc_grant_ho": ("Home Office grant, quarter", "Counter-terrorism specific grant"),
    "inc_grant_oth": ("Specific grant claim", "Victims' services grant (MoJ)", "Safety camera partnership income"),
    "inc_grant": ("Specific grant income", "Counter-terrorism grant", "Victims' services grant (MoJ)"),
    "inc_misc": ("Sundry income", "Rent received, mast site", "Sale of surplus vehicles"),
    "inc_interest": ("Interest on balances", "Bank interest received"),
}

#: who supplies what: supplier category per role
ROLE_CATEGORY = {
    "fuel": "fleet", "vehicle_repairs": "fleet", "vehicle_lease": "fleet", "car_allow": "fleet",
    "rent": "estates", "rates": "estates", "energy": "estates", "cleaning": "estates", "repairs": "estates",
    "software": "ict", "hardware": "ict", "telephony": "ict", "bwv_storage": "ict",
    "forensic": "forensic", "custody_health": "custody", "equipment": "equipment", "uniform": "equipment",
    "prof_fees": "professional", "training": "training", "travel": "training", "recruitment": "training",
    "printing": "office", "pay_la": "public", "pay_agencies": "public", "air_support": "public",
    "part_pay": "public",
}

SUPPLIERS: dict[str, tuple[str, ...]] = {
    "fleet": ("Allstar Business Solutions Ltd", "Lex Autolease Ltd", "Bristol Street Motors",
              "Halfords Autocentres", "Škoda Fleet Services UK", "Goodyear Dunlop Tyres UK Ltd"),
    "estates": ("EDF Energy Customers Ltd", "Bristol Water plc", "Wessex Water Services Ltd",
                "Dŵr Cymru Welsh Water", "Mitie Cleaning & Environmental", "Kier Facilities Services",
                "Ørsted Sales (UK) Ltd", "Somerset Council", "Wiltshire Council"),
    "ict": ("Motorola Solutions UK Ltd (Airwave)", "Microsoft Ltd", "Capita Business Services",
            "Sopra Steria Ltd", "Dell Corporation Ltd", "Niche Technology Inc.", "BT plc",
            "Vodafone Ltd", "Computacenter (UK) Ltd", "Axon Public Safety UK Ltd"),
    "forensic": ("Eurofins Forensic Services", "LGC Forensics", "Key Forensic Services Ltd",
                 "Cellmark Forensic Services"),
    "custody": ("G4S Health Services (UK) Ltd", "Mitie Care & Custody", "Tascor Medical Services"),
    "equipment": ("Axon Public Safety UK Ltd", "Arco Ltd", "Bollé Safety, UK & Ireland", "Sioen Apparel",
                  "Hiatt & Co \"Speedcuffs\"", "Müller & Söhne GmbH"),
    "professional": ("Bevan Brittan LLP", "Grant Thornton UK LLP", "KPMG LLP", "Zürich Municipal",
                     "Straßburger Sprachdienste GmbH", "Gwasanaethau Cyfieithu Cymru Cyf", PERSON, PERSON),
    "training": ("College of Policing Ltd", "Premier Inn Hotels Ltd", "Great Western Railway",
                 "Café Nero Group Ltd", "Jobs Go Public Ltd", PERSON, PERSON),
    "office": ("Lyreco UK Ltd", "Banner Group Ltd", "Royal Mail Group Ltd"),
    "public": ("Bath & North East Somerset Council", "North Somerset Council", "Avon Fire & Rescue Service",
               "Swindon Borough Council", "Victim Support", "National Police Air Service (WY PCC)",
               "The Big Issue Foundation", "Sølvberg Interpreting Ltd"),
    "general": ("Amazon EU S.à r.l.", "Viking Direct", "Screwfix Direct Ltd", PERSON),
}
CATEGORIES = tuple(SUPPLIERS)


def supplier_numbers() -> dict[tuple[str, int], str]:
    """ASC's vendor master: '<6-digit number> <name>' per (category, position); a person keeps a
    vendor number of their own, with the name redacted."""
    numbers = {}
    for c, category in enumerate(CATEGORIES):
        for i, name in enumerate(SUPPLIERS[category]):
            numbers[(category, i)] = f"{100100 + 1000 * c + 17 * i} {name}"
    return numbers


def fit(text: str) -> str:
    """Texts are at most 50 characters (SAP truncates)."""
    return text[:TEXT_LIMIT].rstrip()
