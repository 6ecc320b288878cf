"""The hand-built ledger cut in the middle of FY 2016 that the in-year tests share.

Both forces' ledgers run to 31 October 2016 (period 7's last day), so by CHART.md's inference
periods 1-6 are closed (30 September + 10 days is before 31 October) and period 7 is not: the
figures of FY 2016 run to period 6, and FY 2014 and 2015 are complete.

    FY 2014 (baseline)  ASC OS04: P1 100.00, P4 200.00, P9 300.00, P12 400.00   (to P6 300.00, year 1,000.00)
                        WP  SF02: P2 50.00, P8 50.00                            (to P6  50.00, year   100.00)
    FY 2016 (to P7)     ASC OS04: P1 90.00, P5 150.00, P7 999.00                (to P6 240.00)
                        WP  SF02: P3 40.00, P7 1.00                             (to P6  40.00)

OS04 (Operational Support) and SF02 (Finance) are alliance scope; ASC also has local policing (LP01):
FY 2014 P2 100.00 and P10 100.00, FY 2016 P2 90.00 (to P6: 90.00 against 100.00).
"""

LEDGER = [
    ("ASC", 2014, 1, "AS200010", "OS04", "OFF_PAY", "100.00"),
    ("ASC", 2014, 4, "AS200010", "OS04", "OFF_PAY", "200.00"),
    ("ASC", 2014, 9, "AS200010", "OS04", "OFF_PAY", "300.00"),
    ("ASC", 2014, 12, "AS200010", "OS04", "OFF_PAY", "400.00"),
    ("WP", 2014, 2, "7100", "SF02", "STF_PAY", "50.00"),
    ("WP", 2014, 8, "7100", "SF02", "STF_PAY", "50.00"),
    ("ASC", 2016, 1, "AS200010", "OS04", "OFF_PAY", "90.00"),
    ("ASC", 2016, 5, "AS200010", "OS04", "OFF_PAY", "150.00"),
    ("ASC", 2016, 7, "AS200010", "OS04", "OFF_PAY", "999.00"),
    ("WP", 2016, 3, "7100", "SF02", "STF_PAY", "40.00"),
    ("WP", 2016, 7, "7100", "SF02", "STF_PAY", "1.00"),
    # local policing (ASC only): FY 2014 P2 100.00 and P10 100.00; FY 2016 P2 90.00
    ("ASC", 2014, 2, "AS100010", "LP01", "OFF_PAY", "100.00"),
    ("ASC", 2014, 10, "AS100010", "LP01", "OFF_PAY", "100.00"),
    ("ASC", 2016, 2, "AS100010", "LP01", "OFF_PAY", "90.00"),
]

BUDGETS = ("ASC,2016,OS04,OFF_PAY,1200.00," + ",".join(["100.00"] * 12) + "\n"
           "WP,2016,SF02,STF_PAY,120.00," + ",".join(["10.00"] * 12) + "\n")
