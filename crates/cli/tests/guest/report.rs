//! Parsing what the guest's `init.sh` prints on the serial console.
//!
//! Lines look like `TC-PCR sha256 7 65CA...`, with the firmware event log
//! as `xxd -p` hex lines between `TC-EVENTLOG-BEGIN` and `TC-EVENTLOG-END`
//! (IMA's log likewise between `TC-IMALOG-BEGIN` and `TC-IMALOG-END`). The console
//! adds `\r`, and kernel messages may appear between lines, so only marker
//! lines and (inside the log block) pure-hex lines count.

use std::collections::BTreeMap;

/// What one boot of the guest reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub cmdline: String,
    pub kernel_release: String,
    /// `tpm_version_major` from sysfs ("2").
    pub tpm_version: String,
    /// The SHA-256 bank, PCR index -> value, as the guest kernel read it.
    pub pcrs: BTreeMap<u32, Vec<u8>>,
    /// `binary_bios_measurements`, byte for byte.
    pub event_log: Vec<u8>,
    /// IMA's `binary_runtime_measurements` (empty if the guest had none).
    pub ima_log: Vec<u8>,
}

/// Parses the last report in a console transcript (the guest prints one at
/// boot and one more for each `report` it is sent).
pub fn parse_last(console: &str) -> Result<Report, String> {
    let at = console
        .rfind("TC-BEGIN")
        .ok_or("the guest printed no report (no TC-BEGIN)")?;
    parse(console.get(at..).unwrap_or_default())
}

/// Parses the first complete report in a console transcript.
pub fn parse(console: &str) -> Result<Report, String> {
    let mut cmdline = None;
    let mut kernel_release = None;
    let mut tpm_version = None;
    let mut pcrs = BTreeMap::new();
    let mut log_hex = String::new();
    let mut ima_hex = String::new();
    // Inside a hex block: (end marker, is the firmware log).
    let mut block: Option<(&str, bool)> = None;
    let mut log_done = false;
    let mut begun = false;
    let mut ended = false;
    for raw in console.lines() {
        let line = raw.trim_end_matches('\r').trim();
        // The firmware's screen-clearing escapes may share the first line.
        if line.ends_with("TC-BEGIN") {
            begun = true;
            continue;
        }
        if !begun {
            continue;
        }
        if let Some((end, firmware)) = block {
            if line == end {
                block = None;
                log_done |= firmware;
            } else if !line.is_empty() && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                if firmware {
                    log_hex.push_str(line);
                } else {
                    ima_hex.push_str(line);
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("TC-ERROR ") {
            return Err(format!("the guest reported: {rest}"));
        } else if let Some(rest) = line.strip_prefix("TC-CMDLINE ") {
            cmdline = Some(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("TC-KERNEL ") {
            kernel_release = Some(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("TC-TPM ") {
            tpm_version = Some(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("TC-PCR ") {
            let mut it = rest.split_whitespace();
            let (Some("sha256"), Some(idx), Some(val), None) =
                (it.next(), it.next(), it.next(), it.next())
            else {
                return Err(format!("malformed PCR line {line:?}"));
            };
            let idx: u32 = idx
                .parse()
                .map_err(|_| format!("bad PCR index in {line:?}"))?;
            let val = hex::decode(val).map_err(|e| format!("bad PCR value in {line:?}: {e}"))?;
            if val.len() != 32 {
                return Err(format!("PCR {idx} value is {} bytes", val.len()));
            }
            pcrs.insert(idx, val);
        } else if line == "TC-EVENTLOG-BEGIN" {
            block = Some(("TC-EVENTLOG-END", true));
        } else if line == "TC-IMALOG-BEGIN" {
            block = Some(("TC-IMALOG-END", false));
        } else if line == "TC-END" {
            ended = true;
            break;
        }
    }
    if !ended {
        return Err("the guest's report is incomplete (no TC-END)".into());
    }
    if !log_done {
        return Err("the guest printed no complete event log".into());
    }
    if pcrs.len() != 24 {
        return Err(format!(
            "the guest printed {} SHA-256 PCRs, not 24",
            pcrs.len()
        ));
    }
    let event_log = hex::decode(&log_hex).map_err(|e| format!("event log hex: {e}"))?;
    let ima_log = hex::decode(&ima_hex).map_err(|e| format!("IMA log hex: {e}"))?;
    Ok(Report {
        cmdline: cmdline.ok_or("no TC-CMDLINE line")?,
        kernel_release: kernel_release.ok_or("no TC-KERNEL line")?,
        tpm_version: tpm_version.ok_or("no TC-TPM line")?,
        pcrs,
        event_log,
        ima_log,
    })
}
