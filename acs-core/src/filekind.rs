//! What the file store knows about a file from its name and content: the version a firmware
//! image installs, and whether a CA file is a certificate at all.
//!
//! Both the server (on every upload) and the CLI use these, so a firmware image uploaded with
//! `acs files upload --type firmware` and one pushed with `acs firmware push FILE` end up with
//! the same version, and a rollout of either can reach `verified`.

use base64::Engine as _;

/// The largest CA file accepted: a bundle of a few certificates is a few kilobytes, so the
/// content is checked in memory.
pub const MAX_CA_SIZE: usize = 1024 * 1024;

/// The SoftwareVersion a Cisco MPP image reports once installed: its name without `.loads`
/// (`sip88xx.12-0-3MPP.loads` → `sip88xx.12-0-3MPP`, SPEC §9). `None` for other names: the
/// version of an arbitrary image cannot be guessed.
pub fn firmware_version(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".loads")?;
    (stem.contains('.') && !stem.starts_with('.')).then(|| stem.to_owned())
}

/// Checks that `content` is one X.509 certificate in DER, or PEM with at least one
/// `CERTIFICATE` block and nothing else but whitespace and comments between blocks. The check
/// is structural (the DER shape of a Certificate: a SEQUENCE of tbsCertificate,
/// signatureAlgorithm and a BIT STRING signature); it does not verify the certificate, which
/// is the CPE's business.
pub fn check_certificate(content: &[u8]) -> Result<(), String> {
    if content.is_empty() {
        return Err("the file is empty".into());
    }
    if content.first() == Some(&0x30) {
        return der_certificate(content).map_err(|e| format!("not a DER certificate: {e}"));
    }
    let text = std::str::from_utf8(content)
        .map_err(|_| "neither a PEM nor a DER certificate".to_owned())?;
    let mut found = 0;
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin + "-----BEGIN ".len()..];
        let label_end = after
            .find("-----")
            .ok_or("a PEM BEGIN line without its closing dashes")?;
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start
            .find(&end_marker)
            .ok_or_else(|| format!("the PEM block {label} has no END line"))?;
        if label != "CERTIFICATE" && label != "TRUSTED CERTIFICATE" {
            return Err(format!(
                "the PEM file holds a {label}, not a certificate (a CA file must contain \
                 certificates only)"
            ));
        }
        let b64: String = body_start[..body_end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("certificate {} is not valid base64: {e}", found + 1))?;
        der_certificate(&der).map_err(|e| format!("certificate {}: {e}", found + 1))?;
        found += 1;
        rest = &body_start[body_end + end_marker.len()..];
    }
    if found == 0 {
        return Err("neither a PEM nor a DER certificate (no BEGIN CERTIFICATE block)".into());
    }
    Ok(())
}

/// One DER tag-length-value: the tag, the content and what follows.
fn tlv(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = bytes.split_first().ok_or("truncated")?;
    let (&first, rest) = rest.split_first().ok_or("truncated")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("truncated".into());
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

fn der_certificate(der: &[u8]) -> Result<(), String> {
    const SEQUENCE: u8 = 0x30;
    const BIT_STRING: u8 = 0x03;
    let (tag, body, trailing) = tlv(der)?;
    if tag != SEQUENCE || !trailing.is_empty() {
        return Err("not a single ASN.1 SEQUENCE".into());
    }
    let mut rest = body;
    for (expected, what) in [
        (SEQUENCE, "tbsCertificate"),
        (SEQUENCE, "signatureAlgorithm"),
        (BIT_STRING, "signatureValue"),
    ] {
        let (tag, _, next) = tlv(rest).map_err(|e| format!("{what}: {e}"))?;
        if tag != expected {
            return Err(format!("no {what}"));
        }
        rest = next;
    }
    if !rest.is_empty() {
        return Err("data after the signature".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal certificate shape: SEQUENCE { SEQUENCE {INTEGER 1}, SEQUENCE {}, BIT STRING }.
    const DER: &[u8] = &[
        0x30, 0x0b, 0x30, 0x03, 0x02, 0x01, 0x01, 0x30, 0x00, 0x03, 0x02, 0x00, 0xff,
    ];

    fn pem(label: &str, der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
    }

    #[test]
    fn certificates_in_der_and_pem_pass_and_anything_else_is_refused() {
        assert_eq!(check_certificate(DER), Ok(()));
        let two = format!(
            "# root\n{}{}",
            pem("CERTIFICATE", DER),
            pem("CERTIFICATE", DER)
        );
        assert_eq!(check_certificate(two.as_bytes()), Ok(()));
        let refused = |content: &[u8], part: &str| {
            let e = check_certificate(content).expect_err("refused");
            assert!(e.contains(part), "{e}");
        };
        refused(b"", "empty");
        refused(b"hello, I am a firmware image", "neither a PEM nor a DER");
        refused(&[0x30, 0x05, 0x01], "not a DER certificate");
        refused(&DER[..DER.len() - 1], "not a DER certificate");
        refused(&[DER, &[0]].concat(), "not a DER certificate");
        refused(
            pem("PRIVATE KEY", DER).as_bytes(),
            "holds a PRIVATE KEY, not a certificate",
        );
        refused(
            pem("CERTIFICATE", &[0x30, 0x00]).as_bytes(),
            "certificate 1",
        );
        refused(b"-----BEGIN CERTIFICATE-----\nAAAA\n", "has no END line");
        refused(&[0xff, 0xfe, 0x00], "neither a PEM nor a DER");
    }

    #[test]
    fn mpp_image_names_carry_their_version() {
        assert_eq!(
            firmware_version("sip88xx.12-0-9MPP.loads").as_deref(),
            Some("sip88xx.12-0-9MPP")
        );
        assert_eq!(firmware_version("firmware.bin"), None);
        assert_eq!(firmware_version("noversion.loads"), None);
        assert_eq!(firmware_version(".loads"), None);
    }
}
