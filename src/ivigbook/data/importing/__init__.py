"""``ivigbook import``: a centre's own export in, a contract package out.

* :mod:`.sources` reads any export file (CSV, XLSX, DTA) into string tables;
* :mod:`.mapping` reads and checks a mapping file (TOML);
* :mod:`.redcap` writes the REDCap data dictionary of the contract and builds the
  mapping of an export of that project;
* :mod:`.convert` applies a mapping to the source tables;
* :mod:`.pseudonym` makes ``patient_id`` from a patient key;
* :mod:`.importer` puts it together: convert, validate, write the package atomically.
"""
