//! Raw TPM 2.0 command bytes for the differential tests, which send the
//! same bytes to swtpm and to our engine (Part 1 §18.2 command layout).

/// TPM_ST_NO_SESSIONS and TPM_ST_SESSIONS.
pub const ST_NO_SESSIONS: u16 = 0x8001;
pub const ST_SESSIONS: u16 = 0x8002;
/// TPM_RS_PW, the password session handle.
pub const RS_PW: u32 = 0x4000_0009;

pub fn u16b(x: u16) -> [u8; 2] {
    x.to_be_bytes()
}

pub fn u32b(x: u32) -> [u8; 4] {
    x.to_be_bytes()
}

/// A TPM2B: u16 size, then the bytes.
pub fn tpm2b(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

/// Big-endian u16s back to back (a TPML body without its count).
pub fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

/// tag || commandSize || commandCode || body.
pub fn cmd(tag: u16, cc: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(10 + body.len());
    v.extend_from_slice(&tag.to_be_bytes());
    v.extend_from_slice(&(10 + body.len() as u32).to_be_bytes());
    v.extend_from_slice(&cc.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// A TPM_ST_SESSIONS command: handles, authorizationSize, the sessions,
/// then the parameters — also with no session at all, for the tests of
/// malformed authorization areas.
pub fn auth_cmd(cc: u32, handles: &[u32], sessions: &[Vec<u8>], params: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for h in handles {
        body.extend_from_slice(&h.to_be_bytes());
    }
    let area: Vec<u8> = sessions.concat();
    body.extend_from_slice(&(area.len() as u32).to_be_bytes());
    body.extend_from_slice(&area);
    body.extend_from_slice(params);
    cmd(ST_SESSIONS, cc, &body)
}

/// A command tagged by whether it has sessions: TPM_ST_NO_SESSIONS and no
/// authorization area when `sessions` is empty, else [`auth_cmd`].
pub fn command(cc: u32, handles: &[u32], sessions: &[Vec<u8>], params: &[u8]) -> Vec<u8> {
    if !sessions.is_empty() {
        return auth_cmd(cc, handles, sessions, params);
    }
    let mut body: Vec<u8> = handles.iter().flat_map(|h| h.to_be_bytes()).collect();
    body.extend_from_slice(params);
    cmd(ST_NO_SESSIONS, cc, &body)
}

/// TPMS_AUTH_COMMAND with the given fields.
pub fn session(handle: u32, nonce: &[u8], attrs: u8, hmac: &[u8]) -> Vec<u8> {
    let mut v = handle.to_be_bytes().to_vec();
    v.extend(tpm2b(nonce));
    v.push(attrs);
    v.extend(tpm2b(hmac));
    v
}

/// A password session (TPM_RS_PW, continueSession) with password `pw`.
pub fn pw(pw: &[u8]) -> Vec<u8> {
    session(RS_PW, &[], 0x01, pw)
}
