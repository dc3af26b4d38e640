//! Lexical checks of the TR-069 value types (A.2.1).

use crate::sim::profile::XsdType;

/// Checks that `value` is a valid lexical value of `ty` (TR-069 A.2.1 / XML Schema):
/// int/unsignedInt/long/unsignedLong in range, boolean `0`/`1`/`true`/`false`, dateTime
/// `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`, base64, even-length hex, decimal. Strings are free.
pub fn check_value(ty: XsdType, value: &str) -> Result<(), String> {
    let ok = match ty {
        XsdType::String => true,
        XsdType::Int => value.parse::<i32>().is_ok(),
        XsdType::UnsignedInt => value.parse::<u32>().is_ok(),
        XsdType::Long => value.parse::<i64>().is_ok(),
        XsdType::UnsignedLong => value.parse::<u64>().is_ok(),
        XsdType::Boolean => matches!(value, "0" | "1" | "true" | "false"),
        XsdType::DateTime => is_date_time(value),
        XsdType::Base64Binary => is_base64(value),
        XsdType::HexBinary => {
            value.len().is_multiple_of(2) && value.bytes().all(|b| b.is_ascii_hexdigit())
        }
        XsdType::Decimal => is_decimal(value),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{value:?} is not a valid {ty}"))
    }
}

fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 19 || !s.is_ascii() {
        return false;
    }
    let digits = |from: usize, to: usize| b[from..to].iter().all(u8::is_ascii_digit);
    let shape = digits(0, 4)
        && b[4] == b'-'
        && digits(5, 7)
        && b[7] == b'-'
        && digits(8, 10)
        && b[10] == b'T'
        && digits(11, 13)
        && b[13] == b':'
        && digits(14, 16)
        && b[16] == b':'
        && digits(17, 19);
    if !shape {
        return false;
    }
    let num = |from: usize, to: usize| s[from..to].parse::<u32>().unwrap_or(u32::MAX);
    let (month, day, hour, minute, second) =
        (num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest.as_bytes() {
        [] | [b'Z'] => true,
        [b'+' | b'-', _, _, b':', _, _] => {
            rest[1..3].parse::<u32>().is_ok_and(|h| h <= 14)
                && rest[4..6].parse::<u32>().is_ok_and(|m| m <= 59)
        }
        _ => false,
    }
}

fn is_base64(s: &str) -> bool {
    let b: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    pad <= 2
        && b[..b.len() - pad]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

fn is_decimal(s: &str) -> bool {
    // XML Schema: (+|-)?([0-9]+(.[0-9]*)?|.[0-9]+)
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    (!int.is_empty() || !frac.is_empty())
        && int.bytes().all(|c| c.is_ascii_digit())
        && frac.bytes().all(|c| c.is_ascii_digit())
}
