//! The client side of sigstore's KMS plugin protocol v1, as cosign speaks it, to drive our
//! plugin binaries in tests exactly the way cosign would.
//!
//! cosign's `PluginClient.invokePlugin` marshals `PluginArgs` (Go's `InitOptions` has no
//! `omitempty` on `rpcOptions`, hence the `null`), passes the protocol version and that JSON as
//! the two arguments, writes the message to stdin, ignores the exit status and parses stdout as
//! one JSON object.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// One plugin call. `configure` sets the environment and working folder (the key store's
/// address, for instance). Returns the plugin's whole JSON response.
///
/// # Panics
///
/// When the plugin cannot be run or its standard output is not one JSON object.
pub fn invoke(
    plugin: &Path,
    hash_func: u32,
    key_id: &str,
    method: &str,
    member: Value,
    stdin: &[u8],
    configure: impl FnOnce(&mut Command),
) -> Value {
    let mut args = json!({
        "initOptions": {
            "protocolVersion": "v1",
            "keyResourceID": key_id,
            "hashFunc": hash_func,
            "rpcOptions": null
        },
        "methodName": method,
    });
    args[method] = member;
    let mut cmd = Command::new(plugin);
    crate::isolate(&mut cmd);
    cmd.arg("v1").arg(args.to_string());
    configure(&mut cmd);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the plugin");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write the message");
    let out = child.wait_with_output().expect("plugin output");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("plugin stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}
