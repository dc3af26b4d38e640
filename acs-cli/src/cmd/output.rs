//! Output of the NBI commands: rows with fixed columns, written as a table, one JSON document,
//! NDJSON or CSV. The columns are the same in every format.
//!
//! - `table` (comfy-table) buffers its rows: column widths need them all. It is meant for a
//!   terminal; scripts should use the other formats.
//! - `json` writes one array (or, for `show` commands, one object), `ndjson` one object per
//!   line, `csv` a header row then one row per record. These three write each row when it is
//!   given, so their memory use does not grow with the number of rows.
//!
//! Values keep their JSON type in `json`/`ndjson` (`null` stays `null`); in `table` and `csv`
//! null is an empty cell, a list of strings (tags) is joined with `,`, and an object is its
//! compact JSON.
//!
//! A `table` is for people: a device id (`00562B-CP%2D8851%2D3PCC-FCH2233A0B1`) is shown as
//! its serial number and product class (`FCH2233A0B1 CP-8851-3PCC`), a listing that has those
//! columns already drops the id, and the table fits the terminal's width (80 columns when
//! there is none): a listing's cells are cut to one line with `…`, except the ones that say
//! what a row is (device, serial number, product class, state, a parameter's name and value),
//! and a `show` record wraps. The
//! machine formats keep every value as the API gave it.
//!
//! Values come from devices (a CPE chooses its own parameter values, serial number, fault
//! strings), so `table` and `csv` cells escape control characters (C0, DEL, C1) as `\x1b` /
//! `\u{9b}`: an escape sequence a device stored must never reach an operator's terminal raw,
//! where it could rewrite the screen or the title, or inject a fake line. JSON escapes them
//! by itself.

use std::io::{self, Write};

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people (buffers all rows).
    Table,
    /// One JSON array of objects (one object for `show`).
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
}

impl Format {
    /// The flag when given, else `table` on a terminal and `ndjson` in a pipe.
    pub fn resolve(flag: Option<Format>) -> Format {
        use std::io::IsTerminal as _;
        flag.unwrap_or_else(|| {
            if io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Ndjson
            }
        })
    }
}

/// A column: its name in the output and the dotted path of the value in the API's object
/// (`fault.code`, `counts.done`).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header / key.
    pub name: &'static str,
    /// Where the value is.
    pub path: &'static str,
    /// Shown in a `table` listing too (the machine formats have every column).
    pub in_table: bool,
}

/// A column whose value is the object's field of the same name.
pub const fn col(name: &'static str) -> Column {
    Column {
        name,
        path: name,
        in_table: true,
    }
}

/// A column named `name` with the value at `path`.
pub const fn at(name: &'static str, path: &'static str) -> Column {
    Column {
        name,
        path,
        in_table: true,
    }
}

/// A column of the machine formats that a `table` listing leaves out, to fit a terminal.
pub const fn wide(name: &'static str) -> Column {
    Column {
        name,
        path: name,
        in_table: false,
    }
}

/// The values of `columns` in `object` (`null` for what is missing). A typed API record is
/// printed through its JSON form, so every format shows the API's own field names.
pub fn pick<T: serde::Serialize + ?Sized>(object: &T, columns: &[Column]) -> Vec<Value> {
    // Records of the API always serialize (their map keys are strings).
    let object = &serde_json::to_value(object).unwrap_or(Value::Null);
    columns
        .iter()
        .map(|c| {
            c.path
                .split('.')
                .try_fold(object, |v, k| v.get(k))
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect()
}

/// The text of a value in a table or CSV cell, control characters escaped.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => escape_controls(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(escape_controls)
            .collect::<Vec<_>>()
            .join(","),
        // Compact JSON: its strings already escape C0 controls; DEL and C1 are escaped here.
        other => escape_controls(&other.to_string()),
    }
}

/// `s` with every C0 control, DEL and C1 control written as an escape: `\x07`, `\x7f`,
/// `\u{9b}`. Everything else, including non-ASCII text, is kept.
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match u32::from(c) {
            cp @ (0..=0x1f | 0x7f) => out.push_str(&format!("\\x{cp:02x}")),
            cp @ 0x80..=0x9f => out.push_str(&format!("\\u{{{cp:x}}}")),
            _ => out.push(c),
        }
    }
    out
}

enum Sink<W: Write> {
    Table { w: W, rows: Vec<Vec<String>> },
    Json(W),
    Ndjson(W),
    Csv(Box<csv::Writer<W>>),
}

/// Writes rows in one format.
pub struct Output<W: Write> {
    columns: Vec<&'static str>,
    /// Per column: whether a table listing shows it.
    in_table: Vec<bool>,
    single: bool,
    dynamic: bool,
    rows: usize,
    sink: Sink<W>,
}

impl<W: Write> std::fmt::Debug for Output<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl<W: Write> Output<W> {
    /// A listing: any number of rows.
    pub fn list(format: Format, columns: &[Column], w: W) -> Self {
        Self::new(format, columns, w, false)
    }

    /// One record (`show`): JSON is an object rather than an array, a table lists the fields
    /// one per line.
    pub fn single(format: Format, columns: &[Column], w: W) -> Self {
        Self::new(format, columns, w, true)
    }

    fn new(format: Format, columns: &[Column], w: W, single: bool) -> Self {
        let sink = match format {
            Format::Table => Sink::Table {
                w,
                rows: Vec::new(),
            },
            Format::Json => Sink::Json(w),
            Format::Ndjson => Sink::Ndjson(w),
            Format::Csv => Sink::Csv(Box::new(
                csv::WriterBuilder::new().has_headers(false).from_writer(w),
            )),
        };
        Output {
            columns: columns.iter().map(|c| c.name).collect(),
            in_table: columns.iter().map(|c| c.in_table).collect(),
            single,
            dynamic: false,
            rows: 0,
            sink,
        }
    }

    /// Wraps table cells to the terminal's width.
    pub fn fit_terminal(mut self, yes: bool) -> Self {
        self.dynamic = yes;
        self
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn object(&self, values: &[Value], pretty: bool) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.columns.iter().zip(values).enumerate() {
            if i > 0 {
                s.push(',');
            }
            if pretty {
                s.push_str("\n  ");
            }
            s.push_str(&Value::String((*k).to_owned()).to_string());
            s.push(':');
            if pretty {
                s.push(' ');
            }
            s.push_str(&v.to_string());
        }
        if pretty {
            s.push('\n');
        }
        s.push('}');
        s
    }

    /// Writes one row; `values` are in column order.
    pub fn row(&mut self, values: &[Value]) -> io::Result<()> {
        debug_assert_eq!(values.len(), self.columns.len());
        let first = self.rows == 0;
        self.rows += 1;
        match &mut self.sink {
            Sink::Table { rows, .. } => {
                let columns = &self.columns;
                rows.push(
                    values
                        .iter()
                        .zip(columns)
                        .map(|(v, c)| match (v, *c) {
                            (Value::String(id), "device_id" | "device") => {
                                escape_controls(&friendly_device(id))
                            }
                            // The ACS's own times, to the second: the width goes to the data.
                            (Value::String(t), name) if is_time_column(name) => {
                                chrono::DateTime::parse_from_rfc3339(t).map_or_else(
                                    |_| cell(v),
                                    |t| {
                                        t.with_timezone(&chrono::Utc)
                                            .format("%Y-%m-%d %H:%M:%S")
                                            .to_string()
                                    },
                                )
                            }
                            _ => cell(v),
                        })
                        .collect(),
                );
                Ok(())
            }
            Sink::Ndjson(_) => {
                let line = self.object(values, false);
                let Sink::Ndjson(w) = &mut self.sink else {
                    unreachable!()
                };
                writeln!(w, "{line}")
            }
            Sink::Json(_) => {
                let single = self.single;
                let obj = self.object(values, single);
                let Sink::Json(w) = &mut self.sink else {
                    unreachable!()
                };
                if single {
                    if first {
                        writeln!(w, "{obj}")
                    } else {
                        Err(io::Error::other("a single record was written twice"))
                    }
                } else {
                    write!(w, "{}{obj}", if first { "[\n" } else { ",\n" })
                }
            }
            Sink::Csv(c) => {
                if first {
                    c.write_record(&self.columns).map_err(csv_io)?;
                }
                c.write_record(values.iter().map(cell)).map_err(csv_io)
            }
        }
    }

    /// Pushes written rows to the underlying writer (not meaningful for tables).
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Table { .. } => Ok(()),
            Sink::Json(w) | Sink::Ndjson(w) => w.flush(),
            Sink::Csv(c) => c.flush(),
        }
    }

    /// Ends the output (closing bracket, the table itself) and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        let Output {
            columns,
            in_table,
            single,
            dynamic,
            rows: count,
            sink,
        } = self;
        match sink {
            Sink::Table { mut w, rows } => {
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED);
                t.set_content_arrangement(ContentArrangement::Dynamic);
                t.set_truncation_indicator("…");
                // Without a terminal to ask, the width people read at.
                let width = dynamic
                    .then(terminal_width)
                    .flatten()
                    .unwrap_or(TABLE_WIDTH);
                t.set_width(width);
                if single {
                    t.set_header(vec!["field", "value"]);
                    if let Some(r) = rows.into_iter().next() {
                        for (k, v) in columns.iter().zip(r) {
                            t.add_row(vec![(*k).to_owned(), v]);
                        }
                    }
                } else {
                    // Columns marked `wide` (a device id beside its serial number and product
                    // class, say) are for scripts; the machine formats keep them.
                    let keep = in_table;
                    let pick = |cells: Vec<String>| -> Vec<String> {
                        cells
                            .into_iter()
                            .zip(&keep)
                            .filter(|(_, k)| **k)
                            .map(|(c, _)| c)
                            .collect()
                    };
                    let shown: Vec<&str> = columns
                        .iter()
                        .zip(&keep)
                        .filter(|(_, k)| **k)
                        .map(|(c, _)| *c)
                        .collect();
                    t.set_header(shown.clone());
                    for r in rows {
                        let mut row = comfy_table::Row::from(pick(r));
                        row.max_height(1);
                        t.add_row(row);
                    }
                    // What names a row is never cut; the other columns share what is left.
                    for (i, name) in shown.iter().enumerate() {
                        if matches!(
                            *name,
                            "serial_number"
                                | "product_class"
                                | "device_id"
                                | "status"
                                | "state"
                                | "name"
                                | "value"
                        ) && let Some(column) = t.column_mut(i)
                        {
                            column.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
                        }
                    }
                }
                writeln!(w, "{t}")?;
                w.flush()?;
                Ok(w)
            }
            Sink::Json(mut w) => {
                if !single {
                    w.write_all(if count == 0 { b"[]\n" } else { b"\n]\n" })?;
                } else if count == 0 {
                    w.write_all(b"null\n")?;
                }
                w.flush()?;
                Ok(w)
            }
            Sink::Ndjson(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Sink::Csv(mut c) => {
                if count == 0 {
                    c.write_record(&columns).map_err(csv_io)?;
                }
                c.flush()?;
                c.into_inner().map_err(|e| e.into_error())
            }
        }
    }
}

/// Columns holding times the ACS recorded (not values a device reported).
fn is_time_column(name: &str) -> bool {
    name.ends_with("_at")
        || matches!(
            name,
            "last_inform" | "first_seen" | "last_boot" | "last_bootstrap"
        )
}

/// A table's width when standard output is not a terminal.
pub const TABLE_WIDTH: u16 = 80;

fn terminal_width() -> Option<u16> {
    comfy_table::Table::new().width()
}

/// A device id (`OUI-ProductClass-Serial`, each part percent-encoded) as people read it:
/// `Serial ProductClass`, or the id itself when it is not one.
pub fn friendly_device(id: &str) -> String {
    fn unescape(part: &str) -> Option<String> {
        let bytes = part.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = part.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }
    let parts: Vec<&str> = id.split('-').collect();
    let decoded: Option<Vec<String>> = parts.iter().map(|p| unescape(p)).collect();
    match decoded.as_deref() {
        Some([_oui, product_class, serial]) => format!("{serial} {product_class}"),
        Some([_oui, serial]) => serial.clone(),
        _ => id.to_owned(),
    }
}

/// An output on standard output (buffered; tables wrap to the terminal).
pub fn stdout(
    format: Format,
    columns: &[Column],
    single: bool,
) -> Output<io::BufWriter<io::Stdout>> {
    use std::io::IsTerminal as _;
    let w = io::BufWriter::with_capacity(64 * 1024, io::stdout());
    let out = if single {
        Output::single(format, columns, w)
    } else {
        Output::list(format, columns, w)
    };
    out.fit_terminal(io::stdout().is_terminal())
}

/// Prints one API object as a `show` record.
pub fn show<T: serde::Serialize + ?Sized>(
    format: Format,
    columns: &[Column],
    object: &T,
) -> anyhow::Result<()> {
    let mut out = stdout(format, columns, true);
    out.row(&pick(object, columns))?;
    out.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COLS: &[Column] = &[col("id"), at("code", "fault.code"), col("tags")];

    /// Writes `objects` in `format` (as a listing, or one record when `single`) and compares
    /// the text with `expected`.
    fn check(format: Format, single: bool, objects: &[Value], expected: &str) {
        let mut out = if single {
            Output::single(format, COLS, Vec::new())
        } else {
            Output::list(format, COLS, Vec::new())
        };
        for o in objects {
            out.row(&pick(o, COLS)).unwrap();
        }
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        assert_eq!(
            text, expected,
            "format {format:?}, single {single}, rows {objects:?}"
        );
    }

    #[test]
    fn every_format_has_the_same_columns() {
        let rows = [
            json!({"id": "a,1", "fault": {"code": 9002}, "tags": ["x", "y"], "extra": 1}),
            json!({"id": "b\"2", "fault": null, "tags": []}),
        ];
        check(
            Format::Ndjson,
            false,
            &rows,
            "{\"id\":\"a,1\",\"code\":9002,\"tags\":[\"x\",\"y\"]}\n\
             {\"id\":\"b\\\"2\",\"code\":null,\"tags\":[]}\n",
        );
        check(
            Format::Json,
            false,
            &rows,
            "[\n{\"id\":\"a,1\",\"code\":9002,\"tags\":[\"x\",\"y\"]},\n\
             {\"id\":\"b\\\"2\",\"code\":null,\"tags\":[]}\n]\n",
        );
        check(
            Format::Csv,
            false,
            &rows,
            "id,code,tags\n\"a,1\",9002,\"x,y\"\n\"b\"\"2\",,\n",
        );
        check(
            Format::Table,
            false,
            &rows,
            "┌─────┬──────┬──────┐\n\
             │ id  ┆ code ┆ tags │\n\
             ╞═════╪══════╪══════╡\n\
             │ a,1 ┆ 9002 ┆ x,y  │\n\
             │ b\"2 ┆      ┆      │\n\
             └─────┴──────┴──────┘\n",
        );
    }

    #[test]
    fn device_ids_read_as_serial_and_product_class() {
        assert_eq!(
            friendly_device("00562B-CP%2D8851%2D3PCC-FCH2233A0B1"),
            "FCH2233A0B1 CP-8851-3PCC"
        );
        assert_eq!(friendly_device("00A0BC-SN%2D1"), "SN-1");
        assert_eq!(friendly_device("not a device id"), "not a device id");
        assert_eq!(friendly_device("a-b-c-d"), "a-b-c-d");
        assert_eq!(friendly_device("A-%ZZ-1"), "A-%ZZ-1");
    }

    #[test]
    fn a_wide_listing_fits_80_columns_and_says_what_it_cut() {
        const WIDE: &[Column] = &[
            wide("id"),
            col("serial_number"),
            col("product_class"),
            col("device_id"),
            col("note"),
        ];
        let row = json!({
            "id": "00562B-CP%2D8851%2D3PCC-FCH2233A0B1",
            "serial_number": "FCH2233A0B1",
            "product_class": "CP-8851-3PCC",
            "device_id": "00562B-CP%2D8851%2D3PCC-FCH2233A0B1",
            "note": "x".repeat(300),
        });
        let mut out = Output::list(Format::Table, WIDE, Vec::new());
        out.row(&pick(&row, WIDE)).unwrap();
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} > 80: {line}",
                line.chars().count()
            );
        }
        assert!(text.contains('…'), "{text}");
        // The id is dropped (serial and product class say it), a device_id reads as them.
        assert!(!text.contains("%2D"), "{text}");
        assert_eq!(
            text.lines().nth(1).unwrap().matches("id").count(),
            1,
            "{text}"
        );
        // With room, the whole name shows.
        const NARROW: &[Column] = &[col("device_id"), col("state")];
        let mut out = Output::list(Format::Table, NARROW, Vec::new());
        out.row(&pick(
            &json!({"device_id": row["device_id"], "state": "done"}),
            NARROW,
        ))
        .unwrap();
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        assert!(text.contains("FCH2233A0B1 CP-8851-3PCC"), "{text}");
    }

    #[test]
    fn empty_listings_are_still_valid_documents() {
        check(Format::Json, false, &[], "[]\n");
        check(Format::Ndjson, false, &[], "");
        check(Format::Csv, false, &[], "id,code,tags\n");
    }

    #[test]
    fn a_single_record_is_an_object_or_a_vertical_table() {
        let rec = [json!({"id": "d1", "fault": {"code": 1}, "tags": ["lab"]})];
        check(
            Format::Json,
            true,
            &rec,
            "{\n  \"id\": \"d1\",\n  \"code\": 1,\n  \"tags\": [\"lab\"]\n}\n",
        );
        check(
            Format::Ndjson,
            true,
            &rec,
            "{\"id\":\"d1\",\"code\":1,\"tags\":[\"lab\"]}\n",
        );
        check(Format::Csv, true, &rec, "id,code,tags\nd1,1,lab\n");
        check(
            Format::Table,
            true,
            &rec,
            "┌───────┬───────┐\n\
             │ field ┆ value │\n\
             ╞═══════╪═══════╡\n\
             │ id    ┆ d1    │\n\
             │ code  ┆ 1     │\n\
             │ tags  ┆ lab   │\n\
             └───────┴───────┘\n",
        );
    }

    #[test]
    fn control_characters_are_escaped_in_table_and_csv() {
        let hostile = "FCH\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nok\u{7f}\u{9b}31m\u{0}é";
        let escaped = "FCH\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x0aok\\x7f\\u{9b}31m\\x00é";
        let rows = [json!({"id": hostile, "fault": {"code": hostile}, "tags": [hostile]})];
        for format in [Format::Table, Format::Csv] {
            for single in [false, true] {
                let mut out = if single {
                    Output::single(format, COLS, Vec::new())
                } else {
                    Output::list(format, COLS, Vec::new())
                };
                out.row(&pick(&rows[0], COLS)).unwrap();
                let text = String::from_utf8(out.finish().unwrap()).unwrap();
                assert!(
                    !text.chars().any(|c| c.is_control() && c != '\n'),
                    "{format:?}: {text:?}"
                );
                if format == Format::Table && !single {
                    // A listing's cells are cut to one line at 80 columns; what shows is
                    // escaped all the same.
                    assert!(text.contains("FCH\\x1b]"), "{text}");
                } else {
                    assert_eq!(text.matches(escaped).count(), 3, "{format:?}: {text}");
                }
            }
        }
        // An object cell (compact JSON) escapes DEL and C1 too.
        assert_eq!(
            cell(&json!({"k": "\u{9b}\u{7f}"})),
            "{\"k\":\"\\u{9b}\\x7f\"}"
        );
        assert_eq!(escape_controls("plain café"), "plain café");
    }

    #[test]
    fn cells() {
        for (v, text) in [
            (json!(null), ""),
            (json!("s"), "s"),
            (json!(true), "true"),
            (json!(12), "12"),
            (json!(["a", "b"]), "a,b"),
            (json!([1, 2]), "[1,2]"),
            (json!({"k": "v"}), "{\"k\":\"v\"}"),
        ] {
            assert_eq!(cell(&v), text, "{v}");
        }
    }
}
