"""The 24SevenOffice connector (SOAP web services)."""
