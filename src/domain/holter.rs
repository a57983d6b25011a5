//! Holter trend import: reads a `HOLTER_STATISTICS` trend export into UTC points, and smooths
//! one trend's series for display.
//!
//! The export (Mortara H-Scribe layout) holds `<TRENDS>` with one `<TREND>` per measured quantity
//! (ST level per lead, ectopic beat rates, heart rate, RR interval and its standard deviation),
//! each with one `<TREND_VALUE>` per averaging period. The import is all-or-nothing: a clinician
//! reviewing a 24-hour trend must never look at a silently truncated or half-understood file, so
//! any malformation refuses the whole file with the line of the offending element.
//!
//! The file's patient identity (`<PATIENT>`, `<DEMOGRAPHIC_FIELD_LIST>`) is never read: the
//! caller attaches the import to the patient chosen in the ward, not to whatever the recorder was
//! told.

use std::fmt;
use std::io::{self, BufRead, Read};

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// A sensible cap on trend values per file for callers without a stricter limit: a 7-day
/// recording of 19 trends at one value per 5 minutes is about 38,000 values.
pub const DEFAULT_MAX_POINTS: usize = 100_000;

/// Trend types whose all-zero value (MIN = AVG = MAX = 0) marks a recording gap, not a reading.
///
/// A heart rate of 0 BPM or an RR interval of 0 ms cannot be measured on a living, recorded
/// patient, and the workstation writes exactly that triple while the leads were off; the RR
/// standard deviation is derived from the same beats, so it goes missing with them. Other trends
/// keep their zeros: 0 ectopic beats or 0 µV of ST shift are real, common readings.
pub const ZERO_IS_GAP_TREND_TYPES: [&str; 3] = ["TREND_HR", "TREND_RR", "TREND_STD_DEV_RR"];

/// A refused trend file: the 1-based line of the offending element and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TrendFileError {
    pub line: u64,
    pub message: String,
}

impl TrendFileError {
    fn at(line: u64, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

/// Everything imported from one trend file.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendImport {
    /// One entry per `<TREND>`, in file order.
    pub trends: Vec<TrendSummary>,
    /// All values, grouped by trend in the order of `trends` and in time order within a trend.
    pub points: Vec<TrendPoint>,
}

impl TrendImport {
    /// The index into `trends` of the trend with this `TREND_TYPE`.
    pub fn find(&self, trend_type: &str) -> Option<usize> {
        self.trends.iter().position(|t| t.trend_type == trend_type)
    }

    /// The points of trend `trend` (an index into `trends`), in time order.
    ///
    /// # Panics
    /// When `trend` is not an index into `trends`.
    pub fn points_of(&self, trend: usize) -> &[TrendPoint] {
        // Points are stored trend by trend, so a trend's points are one contiguous run.
        let start: usize = self.trends[..trend].iter().map(|t| t.count).sum();
        &self.points[start..start + self.trends[trend].count]
    }
}

/// One `<TREND>`: what it measures and in which units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendSummary {
    /// `TREND_TYPE`, e.g. `TREND_HR`; unique within a file.
    pub trend_type: String,
    /// `TREND_LABEL` for display, e.g. `aVR`; the trend type when the file has none.
    pub label: String,
    /// `UNITS` exactly as written (`UV`, `BPM`, `MSEC`, ...): units differ per trend.
    pub units: String,
    /// `TREND_VALID`; `true` when absent. The points are kept either way, for the reader to judge.
    pub valid: bool,
    /// `AVG_DURATION_SEC`: the averaging period of one value, a natural basis for a smoothing gap.
    pub avg_duration_sec: Option<u32>,
    /// How many points this trend has in `TrendImport::points`.
    pub count: usize,
}

/// One `<TREND_VALUE>`, with its device-local time resolved to UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendPoint {
    /// Index into `TrendImport::trends`.
    pub trend: usize,
    /// `DATE_TIME_HL7` exactly as written, kept for audit against the source file.
    pub date_time_hl7: String,
    /// The same time as a device-local wall-clock time.
    pub local: NaiveDateTime,
    pub at: DateTime<Utc>,
    /// `None` when the trend declares `MIN_VALID="FALSE"` or the value is a recording gap.
    pub min_value: Option<i32>,
    /// `None` when the value is a recording gap.
    pub avg_value: Option<i32>,
    /// `None` when the trend declares `MAX_VALID="FALSE"` or the value is a recording gap.
    pub max_value: Option<i32>,
    /// `VALID` as written, even for a recording gap.
    pub valid: bool,
}

/// Which of a point's three values a series is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendComponent {
    Min,
    Avg,
    Max,
}

/// A trend value with its instant and its min/avg/max: a parsed point or a stored one.
pub trait TrendValue {
    fn at(&self) -> DateTime<Utc>;
    fn values(&self) -> [Option<i32>; 3];

    fn value(&self, component: TrendComponent) -> Option<i32> {
        let [min, avg, max] = self.values();
        match component {
            TrendComponent::Min => min,
            TrendComponent::Avg => avg,
            TrendComponent::Max => max,
        }
    }
}

impl TrendValue for TrendPoint {
    fn at(&self) -> DateTime<Utc> {
        self.at
    }

    fn values(&self) -> [Option<i32>; 3] {
        [self.min_value, self.avg_value, self.max_value]
    }
}

/// Parses a Holter trend export, streaming, with `device_zone` the zone the recorder's clock
/// was set to, and refusing files with more than `max_points` values.
///
/// `DATE_TIME_HL7` carries no zone. At a fall-back hour, where a local time exists twice, each
/// trend's time is kept moving forward: the earlier instant is chosen unless it is not after the
/// trend's previous point, then the later one. A local time skipped by a spring-forward change
/// cannot have been written by a clock following the zone, so it refuses the file. Within a trend
/// time must strictly increase: a repeated instant is a duplicate point, an earlier one a clock
/// that went back, and both refuse the file.
pub fn parse_trend_file<R: BufRead>(
    input: R,
    device_zone: Tz,
    max_points: usize,
) -> Result<TrendImport, TrendFileError> {
    let mut reader = Reader::from_reader(LineCountingReader {
        inner: input,
        newlines: 0,
    });
    // Whitespace between elements must reach us as text events: the line of an element is read
    // from the counter before its event, so the newlines before it must already be consumed.
    reader.config_mut().trim_text(false);

    let mut parse = TrendFileParse {
        zone: device_zone,
        max_points,
        trends: Vec::new(),
        trend_lines: Vec::new(),
        points: Vec::new(),
        scopes: Vec::new(),
        open_trend: None,
        seen_root: false,
        root_end_line: 1,
        trends_line: None,
    };
    let mut buf = Vec::with_capacity(512);
    loop {
        buf.clear();
        let line = reader.get_ref().line();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|err| TrendFileError::at(line, format!("malformed XML: {err}")))?;
        match event {
            Event::Start(element) => parse.open(&element, line, false)?,
            Event::Empty(element) => parse.open(&element, line, true)?,
            Event::End(_) => parse.close(line),
            Event::Text(text) => parse.text(&text, line)?,
            // Character data in any other form is judged like text that is not blank.
            Event::CData(_) => parse.text("<![CDATA[", line)?,
            Event::GeneralRef(_) => parse.text("&", line)?,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => return parse.finish(reader.get_ref().line()),
        }
    }
}

/// Counts newlines in the bytes the XML reader consumes, so an element's line is known without
/// rescanning the input: the count before an event is the number of lines above its `<`.
struct LineCountingReader<R> {
    inner: R,
    newlines: u64,
}

impl<R> LineCountingReader<R> {
    fn line(&self) -> u64 {
        self.newlines + 1
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

impl<R: BufRead> Read for LineCountingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCountingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if amount > 0 {
            // The bytes being consumed were returned by the last fill_buf and are still
            // buffered, so asking again costs no I/O.
            if let Ok(available) = self.inner.fill_buf() {
                self.newlines += count_newlines(&available[..amount.min(available.len())]);
            }
        }
        self.inner.consume(amount);
    }
}

/// Where in the document the parse is: the elements it is inside of, innermost last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Root,
    Trends,
    Trend,
    TrendValue,
    /// Anything else under the root (`PATIENT`, `SCAN_CRITERIA`, ...): skipped unread.
    Skipped,
}

/// What the values of the `<TREND>` being read need from its attributes.
struct OpenTrend {
    index: usize,
    first_point: usize,
    min_valid: bool,
    max_valid: bool,
    zero_is_gap: bool,
}

struct TrendFileParse {
    zone: Tz,
    max_points: usize,
    trends: Vec<TrendSummary>,
    /// Line of each trend's `<TREND>`, to point at the first one when a type repeats.
    trend_lines: Vec<u64>,
    points: Vec<TrendPoint>,
    scopes: Vec<Scope>,
    open_trend: Option<OpenTrend>,
    seen_root: bool,
    /// Line of `</HOLTER_STATISTICS>`, where a file without `<TRENDS>` is found wanting.
    root_end_line: u64,
    trends_line: Option<u64>,
}

const ROOT: &str = "HOLTER_STATISTICS";

impl TrendFileParse {
    fn open(&mut self, element: &BytesStart, line: u64, empty: bool) -> Result<(), TrendFileError> {
        let name = element.name().into_inner();
        if name.is_empty() {
            // quick-xml reads a lone `<` followed by whitespace as an element with no name.
            return Err(TrendFileError::at(
                line,
                "malformed XML: an element without a name",
            ));
        }
        let scope = match (self.scopes.last(), name) {
            (None, ROOT) if !self.seen_root => {
                self.seen_root = true;
                Scope::Root
            }
            (None, _) if self.seen_root => {
                return Err(TrendFileError::at(
                    line,
                    format!("<{name}> after the end of the {ROOT} root element"),
                ));
            }
            (None, _) => {
                return Err(TrendFileError::at(
                    line,
                    format!("the root element is <{name}>, expected <{ROOT}>"),
                ));
            }
            (Some(Scope::Root), "TRENDS") => {
                self.trends_line.get_or_insert(line);
                Scope::Trends
            }
            (Some(Scope::Trends), "TREND") => {
                self.open_trend(element, line)?;
                Scope::Trend
            }
            (Some(Scope::Trend), "TREND_VALUE") => {
                self.add_point(element, line)?;
                Scope::TrendValue
            }
            (_, "TREND_VALUE") => {
                return Err(TrendFileError::at(line, "<TREND_VALUE> outside a <TREND>"));
            }
            (_, "TREND") => {
                return Err(TrendFileError::at(line, "<TREND> outside <TRENDS>"));
            }
            (_, "TRENDS") => {
                return Err(TrendFileError::at(
                    line,
                    format!("<TRENDS> not directly inside <{ROOT}>"),
                ));
            }
            (Some(parent @ (Scope::Trends | Scope::Trend | Scope::TrendValue)), _) => {
                return Err(TrendFileError::at(
                    line,
                    format!("unexpected <{name}> inside <{}>", scope_name(*parent)),
                ));
            }
            (Some(Scope::Root | Scope::Skipped), _) => Scope::Skipped,
        };
        if empty {
            self.leave(scope);
        } else {
            self.scopes.push(scope);
        }
        Ok(())
    }

    fn close(&mut self, line: u64) {
        // quick-xml has already checked that the end tag matches its start tag.
        if let Some(scope) = self.scopes.pop() {
            if scope == Scope::Root {
                self.root_end_line = line;
            }
            self.leave(scope);
        }
    }

    fn leave(&mut self, scope: Scope) {
        if scope == Scope::Trend {
            self.open_trend = None;
        }
    }

    fn text(&self, text: &str, line: u64) -> Result<(), TrendFileError> {
        let blank = text
            .bytes()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
        if blank {
            return Ok(());
        }
        match self.scopes.last() {
            None => Err(TrendFileError::at(
                line,
                format!("text outside the {ROOT} root element"),
            )),
            Some(scope @ (Scope::Trends | Scope::Trend | Scope::TrendValue)) => Err(
                TrendFileError::at(line, format!("text inside <{}>", scope_name(*scope))),
            ),
            Some(Scope::Root | Scope::Skipped) => Ok(()),
        }
    }

    fn finish(self, line: u64) -> Result<TrendImport, TrendFileError> {
        match self.scopes.last() {
            None => {}
            Some(Scope::Skipped) => {
                return Err(TrendFileError::at(
                    line,
                    "the file ends inside an unclosed element",
                ));
            }
            Some(scope) => {
                return Err(TrendFileError::at(
                    line,
                    format!("the file ends inside <{}>", scope_name(*scope)),
                ));
            }
        }
        if !self.seen_root {
            return Err(TrendFileError::at(line, format!("no <{ROOT}> element")));
        }
        let Some(trends_line) = self.trends_line else {
            return Err(TrendFileError::at(
                self.root_end_line,
                "no <TRENDS> section",
            ));
        };
        if self.points.is_empty() {
            return Err(TrendFileError::at(
                trends_line,
                "<TRENDS> holds no trend values",
            ));
        }
        Ok(TrendImport {
            trends: self.trends,
            points: self.points,
        })
    }

    fn open_trend(&mut self, element: &BytesStart, line: u64) -> Result<(), TrendFileError> {
        let mut trend_type = None;
        let mut label = None;
        let mut units = None;
        let mut valid = true;
        let mut min_valid = true;
        let mut max_valid = true;
        let mut avg_duration_sec = None;
        for attribute in element.attributes() {
            let attribute = attribute
                .map_err(|err| TrendFileError::at(line, format!("malformed attribute: {err}")))?;
            let key = attribute.key.into_inner();
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| TrendFileError::at(line, format!("{key}: {err}")))?;
            match key {
                "TREND_TYPE" => trend_type = Some(value.into_owned()),
                "TREND_LABEL" => label = Some(value.into_owned()),
                "UNITS" => units = Some(value.into_owned()),
                "TREND_VALID" => valid = parse_flag(key, &value, line)?,
                "MIN_VALID" => min_valid = parse_flag(key, &value, line)?,
                "MAX_VALID" => max_valid = parse_flag(key, &value, line)?,
                "AVG_DURATION_SEC" => {
                    avg_duration_sec = Some(value.parse::<u32>().map_err(|_| {
                        TrendFileError::at(
                            line,
                            format!(
                                "AVG_DURATION_SEC \"{value}\" is not a whole number of seconds"
                            ),
                        )
                    })?);
                }
                _ => {}
            }
        }
        let trend_type = required_text("TREND", "TREND_TYPE", trend_type, line)?;
        let units = required_text("TREND", "UNITS", units, line)?;
        if let Some(first) = self.trends.iter().position(|t| t.trend_type == trend_type) {
            // Two trends of one type would make "the heart rate at 10:05" ambiguous.
            return Err(TrendFileError::at(
                line,
                format!(
                    "trend {trend_type} appears twice (first at line {})",
                    self.trend_lines[first]
                ),
            ));
        }
        self.open_trend = Some(OpenTrend {
            index: self.trends.len(),
            first_point: self.points.len(),
            min_valid,
            max_valid,
            zero_is_gap: ZERO_IS_GAP_TREND_TYPES.contains(&trend_type.as_str()),
        });
        self.trends.push(TrendSummary {
            label: label.unwrap_or_else(|| trend_type.clone()),
            trend_type,
            units,
            valid,
            avg_duration_sec,
            count: 0,
        });
        self.trend_lines.push(line);
        Ok(())
    }

    fn add_point(&mut self, element: &BytesStart, line: u64) -> Result<(), TrendFileError> {
        let Some(trend) = &self.open_trend else {
            return Err(TrendFileError::at(line, "<TREND_VALUE> outside a <TREND>"));
        };
        if self.points.len() >= self.max_points {
            return Err(TrendFileError::at(
                line,
                format!(
                    "more than {} trend values, the import limit",
                    self.max_points
                ),
            ));
        }

        let mut date_time = None;
        let mut min = None;
        let mut avg = None;
        let mut max = None;
        let mut valid = None;
        for attribute in element.attributes() {
            let attribute = attribute
                .map_err(|err| TrendFileError::at(line, format!("malformed attribute: {err}")))?;
            let key = attribute.key.into_inner();
            let slot = match key {
                "DATE_TIME_HL7" => &mut date_time,
                "MIN_VALUE" => &mut min,
                "AVG_VALUE" => &mut avg,
                "MAX_VALUE" => &mut max,
                "VALID" => &mut valid,
                _ => continue,
            };
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|err| TrendFileError::at(line, format!("{key}: {err}")))?;
            *slot = Some(value);
        }
        let date_time = required("DATE_TIME_HL7", date_time, line)?;
        let min = parse_reading("MIN_VALUE", required("MIN_VALUE", min, line)?, line)?;
        let avg = parse_reading("AVG_VALUE", required("AVG_VALUE", avg, line)?, line)?;
        let max = parse_reading("MAX_VALUE", required("MAX_VALUE", max, line)?, line)?;
        let valid = parse_flag("VALID", &required("VALID", valid, line)?, line)?;

        let local = parse_hl7_local(&date_time).ok_or_else(|| {
            TrendFileError::at(
                line,
                format!("DATE_TIME_HL7 \"{date_time}\" is not a valid yyyymmddHHMMSS time"),
            )
        })?;
        let trend_points = &self.points[trend.first_point..];
        let previous = trend_points.last().map(|p| p.at);
        let at = resolve_local(self.zone, local, previous).ok_or_else(|| {
            TrendFileError::at(
                line,
                format!(
                    "DATE_TIME_HL7 \"{date_time}\" does not exist in {}: the clocks skipped it \
                     (daylight-saving change)",
                    self.zone
                ),
            )
        })?;
        if let Some(previous) = previous
            && at <= previous
        {
            let trend_type = &self.trends[trend.index].trend_type;
            // The trend's points are in strictly increasing time, so a search finds any twin.
            let message = if trend_points.binary_search_by(|p| p.at.cmp(&at)).is_ok() {
                format!("duplicate point: {trend_type} already has a value at {date_time} ({at})")
            } else {
                format!(
                    "DATE_TIME_HL7 \"{date_time}\" goes back in time: the previous {trend_type} \
                     value is at {previous}"
                )
            };
            return Err(TrendFileError::at(line, message));
        }

        let recording_gap = trend.zero_is_gap && min == 0 && avg == 0 && max == 0;
        let point = if recording_gap {
            TrendPoint {
                trend: trend.index,
                date_time_hl7: date_time.into_owned(),
                local,
                at,
                min_value: None,
                avg_value: None,
                max_value: None,
                valid,
            }
        } else {
            TrendPoint {
                trend: trend.index,
                date_time_hl7: date_time.into_owned(),
                local,
                at,
                // The workstation writes 0 for a side it declared invalid: that 0 means absent.
                min_value: trend.min_valid.then_some(min),
                avg_value: Some(avg),
                max_value: trend.max_valid.then_some(max),
                valid,
            }
        };
        self.trends[trend.index].count += 1;
        self.points.push(point);
        Ok(())
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Root => ROOT,
        Scope::Trends => "TRENDS",
        Scope::Trend => "TREND",
        Scope::TrendValue => "TREND_VALUE",
        Scope::Skipped => "an element outside the trends",
    }
}

fn required<T>(name: &str, value: Option<T>, line: u64) -> Result<T, TrendFileError> {
    value.ok_or_else(|| TrendFileError::at(line, format!("<TREND_VALUE> has no {name} attribute")))
}

fn required_text(
    element: &str,
    name: &str,
    value: Option<String>,
    line: u64,
) -> Result<String, TrendFileError> {
    match value {
        Some(value) if !value.trim().is_empty() => Ok(value),
        Some(_) => Err(TrendFileError::at(
            line,
            format!("<{element}> has an empty {name}"),
        )),
        None => Err(TrendFileError::at(
            line,
            format!("<{element}> has no {name} attribute"),
        )),
    }
}

fn parse_flag(name: &str, value: &str, line: u64) -> Result<bool, TrendFileError> {
    match value {
        "TRUE" => Ok(true),
        "FALSE" => Ok(false),
        _ => Err(TrendFileError::at(
            line,
            format!("{name} is \"{value}\", expected TRUE or FALSE"),
        )),
    }
}

fn parse_reading(name: &str, value: impl AsRef<str>, line: u64) -> Result<i32, TrendFileError> {
    let value = value.as_ref();
    value
        .parse::<i32>()
        .map_err(|_| TrendFileError::at(line, format!("{name} \"{value}\" is not a whole number")))
}

/// Reads `yyyymmddHHMMSS`, exactly 14 digits: the export never writes HL7's optional fractions
/// or zone suffix, so one of those means the file is not what this parser understands.
fn parse_hl7_local(text: &str) -> Option<NaiveDateTime> {
    let digits = text.as_bytes();
    if digits.len() != 14 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |from: usize, to: usize| {
        digits[from..to]
            .iter()
            .fold(0_u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(number(0, 4)).ok()?;
    NaiveDate::from_ymd_opt(year, number(4, 6), number(6, 8))?.and_hms_opt(
        number(8, 10),
        number(10, 12),
        number(12, 14),
    )
}

/// Device-local time to UTC; `None` for a local time the zone skips.
fn resolve_local(
    zone: Tz,
    local: NaiveDateTime,
    previous: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, later) => {
            let earlier = earlier.with_timezone(&Utc);
            let later = later.with_timezone(&Utc);
            // During the repeated hour the device writes the same wall-clock times twice; the
            // second pass is recognised by the earlier reading not moving the trend forward.
            Some(if previous.is_some_and(|previous| earlier <= previous) {
                later
            } else {
                earlier
            })
        }
        LocalResult::None => None,
    }
}

/// How a trend is smoothed for display, as named in a query: `none`, `moving_average:N` or
/// `median:N`, where the window N counts points, is odd (so it centres on a point) and lies in
/// `1..=51` (51 five-minute values span about four hours, more flattens a 24-hour trend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Smoothing {
    None,
    MovingAverage { window: usize },
    Median { window: usize },
}

impl Smoothing {
    pub const MAX_WINDOW: usize = 51;

    pub fn parse(text: &str) -> Result<Smoothing, String> {
        let (kind, window) = match text.split_once(':') {
            None if text == "none" => return Ok(Smoothing::None),
            None => (text, None),
            Some((kind, window)) => (kind, Some(window)),
        };
        let make: fn(usize) -> Smoothing = match kind {
            "moving_average" => |window| Smoothing::MovingAverage { window },
            "median" => |window| Smoothing::Median { window },
            _ => {
                return Err(format!(
                    "unknown smoothing \"{text}\": expected none, moving_average:N or median:N"
                ));
            }
        };
        let Some(window) = window else {
            return Err(format!(
                "smoothing \"{text}\" needs a window, e.g. {kind}:5"
            ));
        };
        let window = window
            .parse::<usize>()
            .ok()
            .filter(|_| window.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("smoothing window \"{window}\" is not a whole number"))?;
        if !(1..=Self::MAX_WINDOW).contains(&window) {
            return Err(format!(
                "smoothing window {window} is outside 1..={}",
                Self::MAX_WINDOW
            ));
        }
        if window % 2 == 0 {
            return Err(format!(
                "smoothing window {window} is even: it must be odd to centre on a point"
            ));
        }
        Ok(make(window))
    }
}

impl fmt::Display for Smoothing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Smoothing::None => f.write_str("none"),
            Smoothing::MovingAverage { window } => write!(f, "moving_average:{window}"),
            Smoothing::Median { window } => write!(f, "median:{window}"),
        }
    }
}

/// One value of one trend's series: a point's min, avg or max with its time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesValue {
    pub at: DateTime<Utc>,
    pub value: Option<f64>,
}

/// One component of a trend's points as a series, ready for [`smooth`].
pub fn series<P: TrendValue>(points: &[P], component: TrendComponent) -> Vec<SeriesValue> {
    points
        .iter()
        .map(|p| SeriesValue {
            at: p.at(),
            value: p.value(component).map(f64::from),
        })
        .collect()
}

/// A trend's three components smoothed, index for index with its points.
#[derive(Debug, Clone, PartialEq)]
pub struct SmoothedTrend {
    pub min: Vec<Option<f64>>,
    pub avg: Vec<Option<f64>>,
    pub max: Vec<Option<f64>>,
}

/// Smooths min, avg and max of one trend's points (as from [`TrendImport::points_of`]) separately.
pub fn smooth_trend(
    points: &[TrendPoint],
    smoothing: Smoothing,
    max_gap_seconds: i64,
) -> SmoothedTrend {
    let smooth_component =
        |component| smooth(&series(points, component), smoothing, max_gap_seconds);
    SmoothedTrend {
        min: smooth_component(TrendComponent::Min),
        avg: smooth_component(TrendComponent::Avg),
        max: smooth_component(TrendComponent::Max),
    }
}

/// Smooths one series in time order with a centred window, index for index with `values`.
///
/// Gaps split the series into segments and no window reaches across one, so a smoothed value
/// only ever mixes readings from one stretch of continuous recording. A gap is a missing value
/// (which stays missing), a non-finite value (treated as missing), or two consecutive times more
/// than `max_gap_seconds` apart or not increasing. Near a segment's edge the window shrinks
/// symmetrically to the points available on both sides, so it stays centred (no lag at the ends
/// of a recording) and a segment's first and last values are their own raw readings.
///
/// A window of N takes N / 2 points each side: `Smoothing::parse` only yields odd N, an even N
/// built by hand acts as N + 1, and 0 or 1 leaves values unchanged.
pub fn smooth(
    values: &[SeriesValue],
    smoothing: Smoothing,
    max_gap_seconds: i64,
) -> Vec<Option<f64>> {
    let reading = |v: &SeriesValue| v.value.filter(|x| x.is_finite());
    let half = match smoothing {
        Smoothing::None => return values.iter().map(reading).collect(),
        Smoothing::MovingAverage { window } | Smoothing::Median { window } => window / 2,
    };
    let mut smoothed = vec![None; values.len()];
    let mut window_values = Vec::with_capacity(2 * half.min(values.len()) + 1);
    let mut start = 0;
    while start < values.len() {
        if reading(&values[start]).is_none() {
            start += 1;
            continue;
        }
        let mut end = start + 1;
        while end < values.len()
            && reading(&values[end]).is_some()
            && continues(&values[end - 1], &values[end], max_gap_seconds)
        {
            end += 1;
        }
        let segment: Vec<f64> = values[start..end].iter().filter_map(reading).collect();
        for (i, out) in smoothed[start..end].iter_mut().enumerate() {
            let reach = half.min(i).min(segment.len() - 1 - i);
            let window = &segment[i - reach..=i + reach];
            *out = Some(match smoothing {
                Smoothing::Median { .. } => {
                    window_values.clear();
                    window_values.extend_from_slice(window);
                    window_values.sort_unstable_by(f64::total_cmp);
                    // The shrunken window is still odd-sized, so the median is its middle value.
                    window_values[reach]
                }
                _ => window.iter().sum::<f64>() / window.len() as f64,
            });
        }
        start = end;
    }
    smoothed
}

fn continues(before: &SeriesValue, after: &SeriesValue, max_gap_seconds: i64) -> bool {
    let step = after.at - before.at;
    // A limit too large for a TimeDelta is no limit at all.
    let within_limit = TimeDelta::try_seconds(max_gap_seconds).is_none_or(|limit| step <= limit);
    step > TimeDelta::zero() && within_limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Rome;
    use std::fs::File;
    use std::io::BufReader;

    const SAMPLE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/holter-trends/synthetic-24h.xml"
    );

    fn sample() -> TrendImport {
        let file = File::open(SAMPLE).unwrap_or_else(|err| {
            panic!(
                "cannot open the synthetic Holter export at {SAMPLE} ({err}): the tests read it \
                 in place from shared/data/holter-trends/, which must sit beside the repository"
            )
        });
        parse_trend_file(BufReader::new(file), Rome, DEFAULT_MAX_POINTS)
            .unwrap_or_else(|err| panic!("the synthetic Holter export was refused: {err}"))
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test timestamp")
            .with_timezone(&Utc)
    }

    /// A file whose first body line is line 5, so tests can name the lines of their elements.
    fn file(body: &[&str]) -> String {
        let mut lines = vec![
            r#"<?xml version="1.0"?>"#,
            r#"<HOLTER_STATISTICS DATE_RECORDED="20300107134901" RECORDER_NUMBER="X">"#,
            r#"  <PATIENT NAME="Someone,Else" ID="NOT-OURS" DOB="19000101" />"#,
            "  <TRENDS>",
        ];
        lines.extend_from_slice(body);
        lines.extend_from_slice(&["  </TRENDS>", "</HOLTER_STATISTICS>", ""]);
        lines.join("\n")
    }

    const HR: &str = r#"    <TREND TREND_TYPE="TREND_HR" TREND_LABEL="HR" TREND_VALID="TRUE" MAX_VALID="TRUE" MIN_VALID="TRUE" AVG_DURATION_SEC="300" UNITS="BPM">"#;
    const END: &str = "    </TREND>";

    fn value(date_time: &str, min: &str, avg: &str, max: &str) -> String {
        format!(
            r#"      <TREND_VALUE DATE_TIME_HL7="{date_time}" MIN_VALUE="{min}" AVG_VALUE="{avg}" MAX_VALUE="{max}" VALID="TRUE" />"#
        )
    }

    fn parse(text: &str) -> Result<TrendImport, TrendFileError> {
        parse_trend_file(text.as_bytes(), Rome, DEFAULT_MAX_POINTS)
    }

    fn refused(text: &str) -> TrendFileError {
        match parse(text) {
            Ok(import) => panic!(
                "accepted a bad file ({} points):\n{text}",
                import.points.len()
            ),
            Err(err) => err,
        }
    }

    /// Asserts the refusal's line and that its message mentions `needle`.
    fn assert_refused(text: &str, line: u64, needle: &str) {
        let err = refused(text);
        assert_eq!(err.line, line, "wrong line for {err}");
        assert!(
            err.message.contains(needle),
            "\"{err}\" does not mention \"{needle}\""
        );
    }

    #[test]
    fn sample_has_nineteen_trends_of_288_values_with_their_units() {
        let import = sample();
        assert_eq!(import.trends.len(), 19);
        assert_eq!(import.points.len(), 5_472);
        assert!(import.trends.iter().all(|t| t.count == 288 && t.valid));
        let units: Vec<(&str, &str, &str)> = import
            .trends
            .iter()
            .map(|t| (t.trend_type.as_str(), t.label.as_str(), t.units.as_str()))
            .collect();
        assert_eq!(
            &units[..4],
            &[
                ("TREND_ST_LEAD_I", "I", "UV"),
                ("TREND_ST_LEAD_II", "II", "UV"),
                ("TREND_ST_LEAD_III", "III", "UV"),
                ("TREND_ST_LEAD_AVR", "aVR", "UV"),
            ]
        );
        assert!(units[..12].iter().all(|(_, _, u)| *u == "UV"));
        assert_eq!(
            &units[12..],
            &[
                ("TREND_SVPB", "SVPB", "BPM"),
                ("TREND_VPB", "VPB", "BPM"),
                ("TREND_VPB2", "VPB2", "VPB_COUPLETS_PER_5MIN"),
                ("TREND_VPB3PLUS", "VPB3+", "VPB_RUNS_PER_5MIN"),
                ("TREND_HR", "HR", "BPM"),
                ("TREND_RR", "RR", "MSEC"),
                ("TREND_STD_DEV_RR", "Std", "MSEC"),
            ]
        );
        assert_eq!(import.trends[0].avg_duration_sec, Some(300));
        for (index, trend) in import.trends.iter().enumerate() {
            let points = import.points_of(index);
            assert!(
                points.iter().all(|p| p.trend == index),
                "{}",
                trend.trend_type
            );
            assert!(
                points
                    .windows(2)
                    .all(|w| w[1].at - w[0].at == TimeDelta::minutes(5))
            );
        }
    }

    #[test]
    fn sample_times_are_rome_winter_time_one_hour_ahead_of_utc() {
        let import = sample();
        let first = &import.points[0];
        assert_eq!(first.date_time_hl7, "20300107134901");
        assert_eq!(
            first.local,
            NaiveDate::from_ymd_opt(2030, 1, 7)
                .and_then(|d| d.and_hms_opt(13, 49, 1))
                .expect("date")
        );
        assert_eq!(first.at, utc("2030-01-07T12:49:01Z"));
        let last = import.points.last().expect("points");
        assert_eq!(last.date_time_hl7, "20300108134401");
        assert_eq!(last.at, utc("2030-01-08T12:44:01Z"));
    }

    #[test]
    fn sample_st_values_keep_their_sign() {
        let import = sample();
        let lead_i = import.points_of(import.find("TREND_ST_LEAD_I").expect("lead I"));
        assert_eq!(
            (
                lead_i[0].min_value,
                lead_i[0].avg_value,
                lead_i[0].max_value
            ),
            (Some(-16), Some(-3), Some(3))
        );
        assert_eq!(
            (
                lead_i[6].min_value,
                lead_i[6].avg_value,
                lead_i[6].max_value
            ),
            (Some(-23), Some(-11), Some(-3))
        );
    }

    #[test]
    fn sample_sides_declared_invalid_are_absent_not_zero() {
        let import = sample();
        let svpb = import.points_of(import.find("TREND_SVPB").expect("SVPB"));
        assert!(
            svpb.iter()
                .all(|p| p.min_value.is_none() && p.max_value.is_some())
        );
        let couplets = import.points_of(import.find("TREND_VPB2").expect("VPB2"));
        assert!(
            couplets
                .iter()
                .all(|p| p.min_value.is_none() && p.max_value.is_none())
        );
        let std_dev = import.points_of(import.find("TREND_STD_DEV_RR").expect("Std"));
        assert!(std_dev.iter().all(|p| p.max_value.is_none()));
        // 17:19:01 comes right after the recording gap: MIN 87, AVG 101, MAX written as 0.
        assert_eq!(
            (
                std_dev[42].min_value,
                std_dev[42].avg_value,
                std_dev[42].max_value
            ),
            (Some(87), Some(101), None)
        );
    }

    #[test]
    fn sample_recording_gap_three_hours_fifteen_in_is_missing_on_hr_and_rr_only() {
        let import = sample();
        let gap = ["20300107170401", "20300107170901", "20300107171401"];
        for trend_type in ZERO_IS_GAP_TREND_TYPES {
            let points = import.points_of(import.find(trend_type).expect(trend_type));
            // 3 h 15 min after 13:49:01 is the 40th five-minute value.
            for (offset, date_time) in gap.iter().enumerate() {
                let point = &points[39 + offset];
                assert_eq!(point.date_time_hl7, *date_time);
                assert_eq!(
                    point.at - points[0].at,
                    TimeDelta::minutes(195 + 5 * offset as i64)
                );
                assert_eq!(
                    (point.min_value, point.avg_value, point.max_value),
                    (None, None, None),
                    "{trend_type} at {date_time}"
                );
                assert!(point.valid, "a gap keeps VALID as written");
            }
            assert!(points[38].avg_value.is_some() && points[42].avg_value.is_some());
        }
        let hr = import.points_of(import.find("TREND_HR").expect("HR"));
        assert_eq!(
            (hr[42].min_value, hr[42].avg_value, hr[42].max_value),
            (Some(51), Some(75), Some(82))
        );
        let missing: usize = import
            .points
            .iter()
            .filter(|p| p.avg_value.is_none())
            .count();
        assert_eq!(
            missing, 9,
            "only HR, RR and STD_DEV_RR lose the three gap values"
        );
        // Zero couplets in the same minutes are a real count, not a gap.
        let couplets = import.points_of(import.find("TREND_VPB2").expect("VPB2"));
        assert_eq!(couplets[39].avg_value, Some(0));
    }

    #[test]
    fn patient_identity_is_never_read() {
        let hr_value = value("20300107134901", "60", "70", "80");
        let text = [
            r#"<HOLTER_STATISTICS>"#,
            r#"  <PATIENT NAME="&lt;anyone&gt;" ID="12345" TREND_TYPE="TREND_HR" />"#,
            r#"  <DEMOGRAPHIC_FIELD_LIST>"#,
            r#"    <DEMOGRAPHIC_FIELD LABEL="Name">free text &amp; <b>markup</b></DEMOGRAPHIC_FIELD>"#,
            r#"  </DEMOGRAPHIC_FIELD_LIST>"#,
            "  <TRENDS>",
            HR,
            &hr_value,
            END,
            "  </TRENDS>",
            "</HOLTER_STATISTICS>",
        ]
        .join("\n");
        let import = parse(&text).expect("parses");
        assert_eq!(import.trends.len(), 1);
        assert_eq!(import.points.len(), 1);
        assert_eq!(import.points[0].avg_value, Some(70));
    }

    #[test]
    fn single_trend_file_parses_with_crlf_and_start_end_value_elements() {
        let text = file(&[
            HR,
            r#"      <TREND_VALUE DATE_TIME_HL7="20300107134901" MIN_VALUE="60" AVG_VALUE="+70" MAX_VALUE="80" VALID="FALSE"></TREND_VALUE>"#,
            END,
            r#"    <TREND TREND_TYPE="TREND_EMPTY" UNITS="UV" />"#,
        ])
        .replace('\n', "\r\n");
        let import = parse(&text).expect("parses");
        assert_eq!(import.trends[0].label, "HR");
        assert_eq!(
            import.trends[1].label, "TREND_EMPTY",
            "the type stands in for a label"
        );
        assert_eq!(import.trends[1].count, 0);
        let point = &import.points[0];
        assert_eq!(
            (point.min_value, point.avg_value, point.max_value),
            (Some(60), Some(70), Some(80))
        );
        assert!(!point.valid);
    }

    #[test]
    fn hr_zero_triple_is_a_gap_but_partial_zeros_are_kept() {
        let text = file(&[
            HR,
            &value("20300107134901", "0", "0", "0"),
            &value("20300107135401", "0", "70", "80"),
            END,
        ]);
        let import = parse(&text).expect("parses");
        assert_eq!(import.points[0].avg_value, None);
        assert_eq!(import.points[1].min_value, Some(0));
    }

    fn local(date_time: &str) -> NaiveDateTime {
        parse_hl7_local(date_time).expect("test local time")
    }

    #[test]
    fn fall_back_hour_is_resolved_so_each_trend_moves_forward() {
        // Rome leaves summer time on 27 October 2030: 03:00 CEST becomes 02:00 CET, so the
        // device writes 02:00..02:59 twice.
        let text = file(&[
            HR,
            &value("20301027015500", "60", "70", "80"),
            &value("20301027023000", "60", "70", "80"),
            &value("20301027025500", "60", "70", "80"),
            &value("20301027020000", "60", "70", "80"),
            &value("20301027023000", "60", "70", "80"),
            &value("20301027030000", "60", "70", "80"),
            END,
            r#"    <TREND TREND_TYPE="TREND_RR" UNITS="MSEC">"#,
            &value("20301027023000", "700", "800", "900"),
            END,
        ]);
        let import = parse(&text).expect("parses");
        let at: Vec<DateTime<Utc>> = import.points.iter().map(|p| p.at).collect();
        assert_eq!(
            at,
            [
                utc("2030-10-26T23:55:00Z"),
                utc("2030-10-27T00:30:00Z"),
                utc("2030-10-27T00:55:00Z"),
                utc("2030-10-27T01:00:00Z"),
                utc("2030-10-27T01:30:00Z"),
                utc("2030-10-27T02:00:00Z"),
                // Another trend starts afresh: the earlier instant.
                utc("2030-10-27T00:30:00Z"),
            ]
        );
        assert_eq!(import.points[4].local, local("20301027023000"));
        assert_eq!(import.points[4].date_time_hl7, "20301027023000");
    }

    #[test]
    fn fall_back_hour_written_a_third_time_is_a_duplicate() {
        let text = file(&[
            HR,
            &value("20301027023000", "60", "70", "80"),
            &value("20301027023000", "60", "70", "80"),
            &value("20301027023000", "60", "70", "80"),
            END,
        ]);
        assert_refused(&text, 8, "duplicate point");
    }

    #[test]
    fn spring_forward_gap_time_is_refused_with_its_line() {
        // Rome skips 02:00..02:59 on 31 March 2030.
        let text = file(&[
            HR,
            &value("20300331015500", "60", "70", "80"),
            &value("20300331023000", "60", "70", "80"),
            END,
        ]);
        assert_refused(&text, 7, "does not exist in Europe/Rome");
        let summer = file(&[HR, &value("20300331030000", "60", "70", "80"), END]);
        assert_eq!(
            parse(&summer).expect("parses").points[0].at,
            utc("2030-03-31T01:00:00Z")
        );
    }

    #[test]
    fn other_zones_convert_with_their_own_offset() {
        let text = file(&[HR, &value("20300707120000", "60", "70", "80"), END]);
        let import =
            parse_trend_file(text.as_bytes(), chrono_tz::America::New_York, 10).expect("parses");
        assert_eq!(import.points[0].at, utc("2030-07-07T16:00:00Z"));
    }

    #[test]
    fn duplicate_and_backward_points_are_refused() {
        let dup = file(&[
            HR,
            &value("20300107134901", "60", "70", "80"),
            &value("20300107135401", "60", "70", "80"),
            &value("20300107134901", "60", "70", "80"),
            END,
        ]);
        assert_refused(
            &dup,
            8,
            "duplicate point: TREND_HR already has a value at 20300107134901",
        );
        let back = file(&[
            HR,
            &value("20300107134901", "60", "70", "80"),
            &value("20300107134401", "60", "70", "80"),
            END,
        ]);
        assert_refused(&back, 7, "goes back in time");
    }

    #[test]
    fn point_cap_is_enforced_at_the_first_value_over_it() {
        let text = file(&[
            HR,
            &value("20300107134901", "60", "70", "80"),
            &value("20300107135401", "60", "70", "80"),
            &value("20300107135901", "60", "70", "80"),
            END,
        ]);
        assert_eq!(
            parse_trend_file(text.as_bytes(), Rome, 3)
                .expect("at the cap")
                .points
                .len(),
            3
        );
        let err = parse_trend_file(text.as_bytes(), Rome, 2).expect_err("over the cap");
        assert_eq!(err.line, 8);
        assert_eq!(
            err.to_string(),
            "line 8: more than 2 trend values, the import limit"
        );
    }

    #[test]
    fn malformed_xml_is_refused_with_its_line() {
        let v = value("20300107134901", "60", "70", "80");
        assert_refused(&file(&[HR, &v, "    </TRND>"]), 7, "malformed XML");
        assert_refused(&file(&[HR, &v.replace("/>", ">"), END]), 7, "malformed XML");
        assert_refused(
            &file(&[HR, &v.replace(r#"VALID="TRUE""#, "VALID=TRUE"), END]),
            6,
            "malformed attribute",
        );
        assert_refused(
            &file(&[HR, &v.replace("VALID=", "MIN_VALUE=\"1\" VALID="), END]),
            6,
            "malformed attribute",
        );
        assert_refused(&file(&[HR, &v, END, "<"]), 8, "malformed XML");
        let cut = file(&[HR, &v, END]);
        let cut = &cut[..cut.find("  </TRENDS>").expect("end of trends")];
        assert_refused(cut, 8, "the file ends inside <TRENDS>");
        assert_refused(
            &file(&[HR, "      not a value", &v, END]),
            5,
            "text inside <TREND>",
        );
        assert_refused("", 1, "no <HOLTER_STATISTICS> element");
        assert_refused("<OTHER_EXPORT/>", 1, "the root element is <OTHER_EXPORT>");
        assert_refused(
            &format!("{}<HOLTER_STATISTICS/>", file(&[HR, &v, END])),
            10,
            "after the end",
        );
        assert_refused(
            &file(&[HR, &v.replace(r#""70""#, r#""&seventy;""#), END]),
            6,
            "AVG_VALUE",
        );
        let label = file(&[HR, &v, END]).replace(r#"TREND_LABEL="HR""#, "TREND_LABEL=\"H\u{1}\"");
        let mut not_utf8 = label.into_bytes();
        let at = not_utf8.iter().position(|&b| b == 1).expect("marker");
        not_utf8[at] = 0xff;
        let err = parse_trend_file(&not_utf8[..], Rome, 10).expect_err("not UTF-8");
        assert_eq!(err.line, 5, "{err}");
        assert!(err.message.contains("malformed XML"), "{err}");
    }

    #[test]
    fn element_spanning_lines_is_reported_at_its_first_line() {
        let text = file(&[
            HR,
            r#"      <TREND_VALUE DATE_TIME_HL7="20300107134901""#,
            r#"          MIN_VALUE="x" AVG_VALUE="1" MAX_VALUE="2" VALID="TRUE" />"#,
            r#"      <!-- a comment"#,
            r#"           over two lines -->"#,
            END,
        ]);
        assert_refused(&text, 6, "MIN_VALUE \"x\" is not a whole number");
        // The count follows the bytes consumed, not the reader's buffer, so any buffer size agrees.
        let tiny = BufReader::with_capacity(3, text.as_bytes());
        assert_eq!(
            parse_trend_file(tiny, Rome, 10)
                .expect_err("bad MIN_VALUE")
                .line,
            6
        );
        let later = text
            .replace(r#""x""#, r#""1""#)
            .replace("    </TREND>", "    </TREND>\n<bad");
        assert_refused(&later, 11, "unexpected <bad> inside <TRENDS>");
    }

    #[test]
    fn misplaced_elements_are_refused() {
        let v = value("20300107134901", "60", "70", "80");
        assert_refused(&file(&[&v]), 5, "<TREND_VALUE> outside a <TREND>");
        let under_root = file(&[HR, &v, END]).replace("  <PATIENT", &format!("{v}\n  <PATIENT"));
        assert_refused(&under_root, 3, "<TREND_VALUE> outside a <TREND>");
        let under_patient = file(&[HR, &v, END]).replace(
            r#"DOB="19000101" />"#,
            &format!(r#"DOB="19000101">{v}</PATIENT>"#),
        );
        assert_refused(&under_patient, 3, "<TREND_VALUE> outside a <TREND>");
        assert_refused(
            &file(&[HR, &v.replace("/>", ">"), &v, "</TREND_VALUE>", END]),
            7,
            "<TREND_VALUE> outside a <TREND>",
        );
        assert_refused(
            &file(&[HR, "      <NOTE/>", END]),
            6,
            "unexpected <NOTE> inside <TREND>",
        );
        assert_refused(&file(&[HR, HR, END, END]), 6, "<TREND> outside <TRENDS>");
    }

    #[test]
    fn missing_required_attributes_are_refused() {
        let v = value("20300107134901", "60", "70", "80");
        for (attribute, line) in [
            (r#"DATE_TIME_HL7="20300107134901" "#, 6),
            (r#"MIN_VALUE="60" "#, 6),
            (r#"AVG_VALUE="70" "#, 6),
            (r#"MAX_VALUE="80" "#, 6),
            (r#"VALID="TRUE" "#, 6),
        ] {
            let name = attribute.split('=').next().expect("name");
            assert_refused(
                &file(&[HR, &v.replace(attribute, ""), END]),
                line,
                &format!("no {name} attribute"),
            );
        }
        assert_refused(
            &file(&[&HR.replace(r#"TREND_TYPE="TREND_HR" "#, ""), &v, END]),
            5,
            "<TREND> has no TREND_TYPE attribute",
        );
        assert_refused(
            &file(&[&HR.replace(r#" UNITS="BPM""#, ""), &v, END]),
            5,
            "<TREND> has no UNITS attribute",
        );
        assert_refused(
            &file(&[&HR.replace(r#"UNITS="BPM""#, r#"UNITS=" ""#), &v, END]),
            5,
            "empty UNITS",
        );
    }

    #[test]
    fn bad_values_flags_and_times_are_refused() {
        let cases = [
            (
                value("20300107134901", "60", "7.5", "80"),
                "AVG_VALUE \"7.5\" is not a whole number",
            ),
            (
                value("20300107134901", "60", "seventy", "80"),
                "not a whole number",
            ),
            (
                value("20300107134901", "60", " 70", "80"),
                "not a whole number",
            ),
            (
                value("20300107134901", "60", "", "80"),
                "not a whole number",
            ),
            (
                value("20300107134901", "60", "70", "99999999999"),
                "MAX_VALUE \"99999999999\"",
            ),
            (
                value("2030010713490", "60", "70", "80"),
                "is not a valid yyyymmddHHMMSS time",
            ),
            (
                value("20301307134901", "60", "70", "80"),
                "\"20301307134901\" is not a valid",
            ),
            (value("20300230134901", "60", "70", "80"), "is not a valid"),
            (value("20300107246001", "60", "70", "80"), "is not a valid"),
            (value("20300107134960", "60", "70", "80"), "is not a valid"),
            (value("2030-01-07T134", "60", "70", "80"), "is not a valid"),
            (
                value("20300107134901+0100", "60", "70", "80"),
                "is not a valid",
            ),
            (
                value("20300107134901", "60", "70", "80")
                    .replace(r#"VALID="TRUE""#, r#"VALID="true""#),
                "VALID is \"true\", expected TRUE or FALSE",
            ),
        ];
        for (bad, needle) in &cases {
            assert_refused(&file(&[HR, bad, END]), 6, needle);
        }
        let v = value("20300107134901", "60", "70", "80");
        assert_refused(
            &file(&[
                &HR.replace(r#"MIN_VALID="TRUE""#, r#"MIN_VALID="1""#),
                &v,
                END,
            ]),
            5,
            "MIN_VALID is \"1\"",
        );
        assert_refused(
            &file(&[
                &HR.replace(r#"AVG_DURATION_SEC="300""#, r#"AVG_DURATION_SEC="5m""#),
                &v,
                END,
            ]),
            5,
            "AVG_DURATION_SEC",
        );
    }

    #[test]
    fn files_without_values_are_refused() {
        let no_trends = "<HOLTER_STATISTICS>\n  <PATIENT ID=\"1\"/>\n</HOLTER_STATISTICS>\n";
        assert_refused(no_trends, 3, "no <TRENDS> section");
        assert_refused(&file(&[]), 4, "<TRENDS> holds no trend values");
        assert_refused(&file(&[HR, END]), 4, "<TRENDS> holds no trend values");
    }

    #[test]
    fn repeated_trend_type_is_refused() {
        let text = file(&[
            HR,
            &value("20300107134901", "60", "70", "80"),
            END,
            HR,
            &value("20300107135401", "60", "70", "80"),
            END,
        ]);
        assert_refused(&text, 8, "trend TREND_HR appears twice (first at line 5)");
    }

    #[test]
    fn smoothing_parses_query_values() {
        assert_eq!(Smoothing::parse("none"), Ok(Smoothing::None));
        assert_eq!(
            Smoothing::parse("moving_average:5"),
            Ok(Smoothing::MovingAverage { window: 5 })
        );
        assert_eq!(
            Smoothing::parse("median:3"),
            Ok(Smoothing::Median { window: 3 })
        );
        assert_eq!(
            Smoothing::parse("median:1"),
            Ok(Smoothing::Median { window: 1 })
        );
        assert_eq!(
            Smoothing::parse("median:51"),
            Ok(Smoothing::Median { window: 51 })
        );
        for bad in [
            "",
            "None",
            "mean:3",
            "median",
            "median:",
            "median:4",
            "median:53",
            "median:0",
            "median:+3",
            "median:3.0",
            "moving_average:-1",
            "none:1",
        ] {
            assert!(Smoothing::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(
            Smoothing::parse("median:4")
                .expect_err("even")
                .contains("odd")
        );
        for smoothing in [
            Smoothing::None,
            Smoothing::MovingAverage { window: 7 },
            Smoothing::Median { window: 9 },
        ] {
            assert_eq!(Smoothing::parse(&smoothing.to_string()), Ok(smoothing));
        }
    }

    /// A series one value a minute from 10:00, `None` for a missing value.
    fn minutes(values: &[Option<f64>]) -> Vec<SeriesValue> {
        let start = utc("2030-01-07T10:00:00Z");
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| SeriesValue {
                at: start + TimeDelta::minutes(i as i64),
                value,
            })
            .collect()
    }

    #[test]
    fn moving_average_is_centred_and_shrinks_symmetrically_at_edges() {
        let series = minutes(&[
            Some(1.0),
            Some(2.0),
            Some(6.0),
            Some(3.0),
            Some(8.0),
            Some(4.0),
        ]);
        let smoothed = smooth(&series, Smoothing::MovingAverage { window: 3 }, 60);
        assert_eq!(
            smoothed,
            [
                Some(1.0),
                Some(3.0),
                Some(11.0 / 3.0),
                Some(17.0 / 3.0),
                Some(5.0),
                Some(4.0)
            ]
        );
        let wide = smooth(&series, Smoothing::MovingAverage { window: 5 }, 60);
        assert_eq!(
            wide,
            [
                Some(1.0),
                Some(3.0),
                Some(4.0),
                Some(23.0 / 5.0),
                Some(5.0),
                Some(4.0)
            ]
        );
    }

    #[test]
    fn median_rejects_a_spike() {
        let series = minutes(&[Some(70.0), Some(72.0), Some(250.0), Some(71.0), Some(73.0)]);
        let smoothed = smooth(&series, Smoothing::Median { window: 3 }, 60);
        assert_eq!(
            smoothed,
            [Some(70.0), Some(72.0), Some(72.0), Some(73.0), Some(73.0)]
        );
        let wide = smooth(&series, Smoothing::Median { window: 5 }, 60);
        assert_eq!(
            wide,
            [Some(70.0), Some(72.0), Some(72.0), Some(73.0), Some(73.0)]
        );
    }

    #[test]
    fn missing_values_stay_missing_and_are_never_bridged() {
        let series = minutes(&[
            Some(10.0),
            Some(20.0),
            None,
            Some(100.0),
            Some(200.0),
            Some(300.0),
        ]);
        let average = smooth(&series, Smoothing::MovingAverage { window: 3 }, 60);
        assert_eq!(
            average,
            [
                Some(10.0),
                Some(20.0),
                None,
                Some(100.0),
                Some(200.0),
                Some(300.0)
            ]
        );
        let median = smooth(&series, Smoothing::Median { window: 5 }, 60);
        assert_eq!(
            median,
            [
                Some(10.0),
                Some(20.0),
                None,
                Some(100.0),
                Some(200.0),
                Some(300.0)
            ]
        );
        let nan = minutes(&[Some(1.0), Some(f64::NAN), Some(3.0)]);
        assert_eq!(
            smooth(&nan, Smoothing::MovingAverage { window: 3 }, 60),
            [Some(1.0), None, Some(3.0)]
        );
        assert_eq!(
            smooth(&nan, Smoothing::None, 60),
            [Some(1.0), None, Some(3.0)]
        );
    }

    #[test]
    fn time_gaps_longer_than_the_limit_split_the_window() {
        let mut series = minutes(&[
            Some(1.0),
            Some(2.0),
            Some(3.0),
            Some(10.0),
            Some(20.0),
            Some(30.0),
        ]);
        for later in &mut series[3..] {
            later.at += TimeDelta::minutes(10);
        }
        let split = smooth(&series, Smoothing::MovingAverage { window: 3 }, 300);
        assert_eq!(
            split,
            [
                Some(1.0),
                Some(2.0),
                Some(3.0),
                Some(10.0),
                Some(20.0),
                Some(30.0)
            ]
        );
        // With an 11-minute limit the same series is one segment.
        let joined = smooth(&series, Smoothing::MovingAverage { window: 3 }, 660);
        assert_eq!(
            joined,
            [
                Some(1.0),
                Some(2.0),
                Some(5.0),
                Some(11.0),
                Some(20.0),
                Some(30.0)
            ]
        );
        // Times that do not increase also split.
        let mut stuck = minutes(&[Some(1.0), Some(2.0), Some(9.0)]);
        stuck[2].at = stuck[1].at;
        assert_eq!(
            smooth(&stuck, Smoothing::MovingAverage { window: 3 }, 60),
            [Some(1.0), Some(2.0), Some(9.0)]
        );
        assert_eq!(
            smooth(&series, Smoothing::Median { window: 3 }, i64::MAX)[2],
            Some(3.0)
        );
    }

    #[test]
    fn no_smoothing_and_unit_windows_return_the_readings() {
        let series = minutes(&[Some(5.0), None, Some(-7.0)]);
        let readings = [Some(5.0), None, Some(-7.0)];
        assert_eq!(smooth(&series, Smoothing::None, 60), readings);
        assert_eq!(
            smooth(&series, Smoothing::Median { window: 1 }, 60),
            readings
        );
        assert_eq!(
            smooth(&series, Smoothing::MovingAverage { window: 0 }, 60),
            readings
        );
        assert!(smooth(&[], Smoothing::Median { window: 3 }, 60).is_empty());
    }

    #[test]
    fn sample_hr_smoothing_leaves_the_gap_missing() {
        let import = sample();
        let hr = import.points_of(import.find("TREND_HR").expect("HR"));
        let smoothed = smooth_trend(hr, Smoothing::MovingAverage { window: 5 }, 300);
        assert_eq!(smoothed.avg.len(), 288);
        assert_eq!(&smoothed.avg[39..42], &[None, None, None]);
        // Last value before the gap and first after it are segment edges: their own readings.
        assert_eq!(smoothed.avg[38], hr[38].avg_value.map(f64::from));
        assert_eq!(smoothed.avg[42], Some(75.0));
        let expected: f64 = hr[1..6]
            .iter()
            .filter_map(|p| p.avg_value)
            .map(f64::from)
            .sum::<f64>()
            / 5.0;
        assert_eq!(smoothed.avg[3], Some(expected));
        assert!(smoothed.min.iter().filter(|v| v.is_none()).count() == 3);
    }
}

/// A trend point as the registry keeps it: the trend it belongs to, its UTC instant and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTrendPoint {
    pub trend_type: String,
    pub units: String,
    pub label: String,
    /// `DATE_TIME_HL7` as the file wrote it (device-local).
    pub date_time_hl7: String,
    pub at: DateTime<Utc>,
    pub min_value: Option<i32>,
    pub avg_value: Option<i32>,
    pub max_value: Option<i32>,
    pub valid: bool,
}

impl TrendValue for StoredTrendPoint {
    fn at(&self) -> DateTime<Utc> {
        self.at
    }

    fn values(&self) -> [Option<i32>; 3] {
        [self.min_value, self.avg_value, self.max_value]
    }
}
