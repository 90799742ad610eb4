"""One module per report; every module in this package is imported by ``reports.registry``."""
