"""Tables as spreadsheets save them: locale delimiters, decimal commas, BOM, .xlsx."""

import pytest

from autosalt.evaluation.tables import TableError, load_scores, load_visits
from autosalt.fileio import InputError
from autosalt.tablefile import cell_text, column_name, read_table_rows


def test_reader_errors_name_the_file(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"patient,visit\n\xff\xfd,1\n")
    with pytest.raises(InputError, match="bad.csv.*UTF-8"):
        read_table_rows(tmp_path / "bad.csv")
    (tmp_path / "few.csv").write_text("patient,visit\n1,2\n")
    with pytest.raises(InputError, match="missing required columns"):
        read_table_rows(tmp_path / "few.csv", required=("patient", "visit", "salt"))
    (tmp_path / "ids.csv").write_text("patient,visit,salt\n007,01,5\n")
    assert read_table_rows(tmp_path / "ids.csv")[0]["patient"] == "007"
    with pytest.raises(InputError, match="table not found"):
        read_table_rows(tmp_path / "absent.csv")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError, match="save the sheet as .xlsx"):
        read_table_rows(tmp_path / "old.xls")


def test_header_names_ignore_case_and_spaces():
    assert column_name(" Patient ") == "patient"
    assert column_name("SALT") == "salt"
    assert column_name(" Patient ID ") == "patient"
    assert column_name("Dose mg") == "dose_mg"


def test_excel_european_csv_is_read(tmp_path):
    """Excel in a German or French locale: BOM, ';', decimal commas, CRLF, empty rows at the end."""
    table = tmp_path / "manual.csv"
    table.write_bytes("\ufeffPatient; Visit ;SALT;Top;Rater\r\n007;w0;12,5;20;A\r\n"
                      "007;w4;7;;A\r\n;;;;\r\n;;;;\r\n".encode())
    scores = load_scores(table)
    assert [(r.patient, r.visit, r.salt) for r in scores.rows] == [("007", "w0", 12.5), ("007", "w4", 7.0)]
    assert scores.rows[0].views == {"top": 20.0} and scores.has_rater


def test_excel_sep_line_and_trailing_empty_columns(tmp_path):
    table = tmp_path / "visits.csv"
    table.write_text("sep=;\npatient;visit;week;dose_mg;;\nP1;v1;0;2,5;;\n\nP1;v2;4,5;5;;\n")
    visits = load_visits(table)
    assert [(v.visit, v.week, v.dose_mg) for v in visits] == [("v1", 0.0, 2.5), ("v2", 4.5, 5.0)]


def test_decimal_comma_is_not_read_in_a_comma_table(tmp_path):
    """With ',' between cells a quoted "12,5" is ambiguous (a thousands separator?): refused."""
    table = tmp_path / "manual.csv"
    table.write_text('patient,visit,salt\nP1,v1,"12,5"\n')
    with pytest.raises(TableError, match=r"manual.csv: line 2: salt '12,5' is not a number"):
        load_scores(table)


def test_bad_rows_keep_their_file_line_after_blank_lines(tmp_path):
    table = tmp_path / "manual.csv"
    table.write_text("patient;visit;salt\nP1;v1;10\n\nP1;v2;abc\n")
    with pytest.raises(TableError, match=r"manual.csv: line 4: salt 'abc' is not a number"):
        load_scores(table)
    table.write_text("patient;visit;salt\nP1;v1;10;oops\n")
    with pytest.raises(TableError, match=r"line 2 has a value \('oops'\) outside the named columns"):
        load_scores(table)
    table.write_text("Patient;patient;visit;salt\nP1;P1;v1;10\n")
    with pytest.raises(TableError, match="both mean column 'patient'"):
        load_scores(table)


def test_xlsx_is_read_directly(tmp_path):
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl is a dependency of autosalt")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([" Patient ", "Visit", "SALT", "Top"])
    sheet.append(["007", "w0", 12.5, 20])
    sheet.append([8, "w4", 40, None])
    sheet.append([None, None, None, None])
    sheet.append(["009", "w0", "abc", None])
    workbook.save(tmp_path / "manual.xlsx")
    with pytest.raises(TableError, match=r"manual.xlsx: row 5: salt 'abc' is not a number"):
        load_scores(tmp_path / "manual.xlsx")
    sheet.delete_rows(5)
    workbook.save(tmp_path / "manual.xlsx")
    scores = load_scores(tmp_path / "manual.xlsx")
    assert [(r.patient, r.visit, r.salt, r.views) for r in scores.rows] == [
        ("007", "w0", 12.5, {"top": 20.0}), ("8", "w4", 40.0, {})]


def test_not_an_xlsx_file_is_refused(tmp_path):
    pytest.importorskip("openpyxl", reason="openpyxl is a dependency of autosalt")
    (tmp_path / "manual.xlsx").write_text("patient,visit,salt\n")
    with pytest.raises(InputError, match="manual.xlsx: not a readable .xlsx workbook"):
        read_table_rows(tmp_path / "manual.xlsx")


def test_cell_text_matches_a_csv_export():
    import datetime

    assert [cell_text(v) for v in (None, 12.0, 12.5, 7, True, " a ")] == ["", "12", "12.5", "7", "true", "a"]
    assert cell_text(datetime.datetime(2024, 3, 1)) == "2024-03-01"
