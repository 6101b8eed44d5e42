//! Spreadsheet sources: `.xlsx`/`.xlsm` streamed cell by cell with calamine's cell reader (one
//! row in memory at a time), `.xls` and `.ods` read whole (calamine has no streaming reader for
//! them). The first row with a value is the header row; blank rows are skipped; errors name the
//! sheet and the cell.

use calamine::Reader;
use serde_json::{Map, Value};

use super::workbook_parts::{check_parts, is_xlsx_zip};
use super::{Item, SourceError, Spec, check_columns, row_items};

/// Read the sheet's items into `sink`; returns the column names.
pub(super) fn read(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    check_parts(spec)?;
    if is_xlsx_zip(&spec.path) {
        stream_xlsx(spec, sink)
    } else {
        read_whole(spec, sink)
    }
}

pub(super) fn bad(spec: &Spec, location: String, reason: String) -> SourceError {
    SourceError::Bad {
        path: spec.path.clone(),
        location,
        reason,
    }
}

/// A cell's value, refused over [`super::ITEM_MAX_BYTES`].
fn check_cell_size(value: &Value) -> Result<(), String> {
    match value {
        Value::String(s) if s.len() as u64 > super::ITEM_MAX_BYTES => {
            Err(super::too_long("the cell"))
        }
        _ => Ok(()),
    }
}

/// `A1`-style name of a cell.
fn cell_name(row: usize, column: usize) -> String {
    let mut letters = String::new();
    let mut n = column + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.insert(0, char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}

/// The sheet asked for, or the workbook's first.
fn chosen_sheet(spec: &Spec, names: &[String]) -> Result<String, SourceError> {
    match &spec.sheet {
        Some(s) => Ok(s.clone()),
        None => names
            .first()
            .cloned()
            .ok_or_else(|| bad(spec, "0".into(), "the workbook has no sheet".into())),
    }
}

/// A cell as JSON; an error cell is refused.
fn cell_json(cell: &calamine::Data) -> Result<Value, String> {
    use calamine::Data;
    Ok(match cell {
        Data::Empty => Value::Null,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Value::String(s.clone()),
        // Excel stores every number as a float: ids like 10 come back as 10.0.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(*f as i64),
        Data::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Data::Int(i) => Value::from(*i),
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(d) => Value::String(d.to_string()),
        Data::Error(e) => return Err(format!("the cell holds an error ({e:?})")),
    })
}

/// The header row, collected as column index -> name, in column order.
fn header_list(names: Map<String, Value>) -> Vec<(u32, String)> {
    let mut list: Vec<(u32, String)> = names
        .into_iter()
        .filter_map(|(c, n)| Some((c.parse().ok()?, n.as_str()?.to_string())))
        .collect();
    list.sort();
    list
}

/// Stream an .xlsx sheet cell by cell: one row in memory at a time.
fn stream_xlsx(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&spec.path)
        .map_err(|e| bad(spec, "0".into(), format!("not a readable workbook: {e}")))?;
    let sheet = chosen_sheet(spec, &workbook.sheet_names())?;
    let mut cells = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(|e| bad(spec, format!("sheet {sheet}"), e.to_string()))?;
    let mut rows = SheetRows {
        spec,
        sheet: sheet.clone(),
        headers: None,
        row: None,
        row_bytes: 0,
    };
    while let Some(cell) = cells.next_cell().map_err(|e| {
        bad(
            spec,
            format!("sheet {sheet}"),
            format!("unreadable sheet: {e}"),
        )
    })? {
        let (r, c) = cell.get_position();
        let value = cell_json(&calamine::Data::from(cell.get_value().clone()))
            .and_then(|v| check_cell_size(&v).map(|()| v))
            .map_err(|reason| {
                bad(
                    spec,
                    format!("sheet {sheet} cell {}", cell_name(r as usize, c as usize)),
                    reason,
                )
            })?;
        rows.cell(r, c, value, sink)?;
    }
    rows.finish(sink)
}

/// A sheet being streamed: its header row once read, and the row whose cells are arriving.
struct SheetRows<'a> {
    spec: &'a Spec,
    sheet: String,
    /// Column index -> name, once the header row has ended.
    headers: Option<Vec<(u32, String)>>,
    /// The row being collected: its index and its cells by column name (by column index while
    /// it is the header row).
    row: Option<(u32, Map<String, Value>)>,
    /// About how many bytes of text the row being collected holds: a row of many cells that
    /// each name one large shared string is refused before it takes the memory.
    row_bytes: u64,
}

impl SheetRows<'_> {
    /// Take the next cell, in sheet order (row by row, left to right).
    fn cell(
        &mut self,
        r: u32,
        c: u32,
        value: Value,
        sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        if self.headers.is_none() {
            let first = self.row.get_or_insert_with(|| (r, Map::new()));
            if first.0 == r {
                if !value.is_null() {
                    let name = match &value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    first.1.insert(c.to_string(), Value::String(name));
                }
                return Ok(());
            }
            self.end_header_row()?;
        } else if self.row.as_ref().is_some_and(|(at, _)| *at != r) {
            self.finish_row(sink)?;
        }
        if self.row.is_none() {
            self.row_bytes = 0;
        }
        self.row_bytes += super::value_bytes(&value);
        if self.row_bytes > super::ITEM_MAX_BYTES {
            return Err(bad(
                self.spec,
                format!("sheet {} row {}", self.sheet, r + 1),
                super::too_long("the row"),
            ));
        }
        let (_, map) = self.row.get_or_insert_with(|| (r, Map::new()));
        let name = self
            .headers
            .iter()
            .flatten()
            .find(|(col, _)| *col == c)
            .map(|(_, n)| n.clone());
        if let Some(name) = name {
            map.insert(name, value);
        }
        Ok(())
    }

    /// The first cell of a later row has come: the header row is complete.
    fn end_header_row(&mut self) -> Result<(), SourceError> {
        let (header_row, names) = self.row.take().unwrap_or_default();
        let list = header_list(names);
        let columns: Vec<String> = list.iter().map(|(_, n)| n.clone()).collect();
        check_columns(
            self.spec,
            &columns,
            &format!("sheet {} row {}", self.sheet, header_row + 1),
        )?;
        self.headers = Some(list);
        Ok(())
    }

    /// Send the collected row's items to `sink`; a row with no value is skipped. Columns with
    /// no cell in the row are null, as in the other formats.
    fn finish_row(
        &mut self,
        sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let (Some((r, map)), Some(headers)) = (self.row.take(), &self.headers) else {
            return Ok(());
        };
        if map.values().all(Value::is_null) {
            return Ok(());
        }
        let mut full = Map::new();
        for (_, name) in headers {
            full.insert(name.clone(), map.get(name).cloned().unwrap_or(Value::Null));
        }
        row_items(
            self.spec,
            full,
            format!("sheet {} row {}", self.sheet, r + 1),
            sink,
        )?;
        Ok(())
    }

    /// After the last cell: the last row's items, and the columns.
    fn finish(
        mut self,
        sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
    ) -> Result<Vec<String>, SourceError> {
        let headers = if self.headers.is_some() {
            self.finish_row(sink)?;
            self.headers.take().unwrap_or_default()
        } else {
            // A sheet with only a header row (or nothing).
            header_list(self.row.take().unwrap_or_default().1)
        };
        let columns: Vec<String> = headers.into_iter().map(|(_, n)| n).collect();
        if columns.is_empty() {
            return Err(bad(
                self.spec,
                format!("sheet {}", self.sheet),
                "the sheet is empty".into(),
            ));
        }
        check_columns(self.spec, &columns, &format!("sheet {} row 1", self.sheet))?;
        Ok(columns)
    }
}

/// Read a whole .xls or .ods sheet (calamine has no streaming reader for them).
fn read_whole(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    let mut workbook = calamine::open_workbook_auto(&spec.path)
        .map_err(|e| bad(spec, "0".into(), format!("not a readable workbook: {e}")))?;
    let sheet = chosen_sheet(spec, &workbook.sheet_names())?;
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| bad(spec, format!("sheet {sheet}"), e.to_string()))?;
    let mut rows = range.rows();
    let headers: Vec<String> = rows
        .next()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .unwrap_or_default();
    check_columns(spec, &headers, &format!("sheet {sheet} row 1"))?;
    for (r, row) in rows.enumerate() {
        let row_index = r + 1;
        let mut map = Map::new();
        let mut row_bytes = 0u64;
        for (c, (header, cell)) in headers.iter().zip(row).enumerate() {
            let value = cell_json(cell)
                .and_then(|v| check_cell_size(&v).map(|()| v))
                .map_err(|reason| {
                    bad(
                        spec,
                        format!("sheet {sheet} cell {}", cell_name(row_index, c)),
                        reason,
                    )
                })?;
            row_bytes += super::value_bytes(&value);
            if row_bytes > super::ITEM_MAX_BYTES {
                return Err(bad(
                    spec,
                    format!("sheet {sheet} row {}", row_index + 1),
                    super::too_long("the row"),
                ));
            }
            map.insert(header.clone(), value);
        }
        if map.values().all(Value::is_null) {
            continue;
        }
        row_items(
            spec,
            map,
            format!("sheet {sheet} row {}", row_index + 1),
            sink,
        )?;
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_names() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(4, 27), "AB5");
    }
}
