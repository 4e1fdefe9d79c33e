//! The CLI with TPM keys on a per-test swtpm; openssl judges the signatures.

#![allow(clippy::unwrap_used, reason = "helpers of tests: a panic is the failure report")]

use std::path::Path;
use std::process::{Command, Output};

use proofmark_test_support::stdout_ok as ok;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::{require_tool, temp_dir};

mod tpm_cli;
use tpm_cli::proofmark;

/// The names in a folder, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Standard error of a command that must fail with exit code 1, with the TCTI's port and the
/// folder replaced by placeholders.
fn error_of(tpm: &Swtpm, out: &Output, dir: &Path) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr)
        .replace(&tpm.port().to_string(), "PORT")
        .replace(&dir.display().to_string(), "$DIR")
}

fn tool(tpm: &Swtpm, program: &str, args: &[&str], cwd: &Path) -> Option<String> {
    tool_with_input(tpm, program, args, cwd, b"")
}

/// A tpm2-tools program on this simulator, with `input` on its standard input.
fn tool_with_input(
    tpm: &Swtpm,
    program: &str,
    args: &[&str],
    cwd: &Path,
    input: &[u8],
) -> Option<String> {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut cmd = tpm.tpm2_tool(program)?;
    cmd.args(args).current_dir(cwd).env("TSS2_LOG", "all+NONE");
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    Some(ok(child.wait_with_output().unwrap()))
}

fn openssl_verifies(openssl: &Path, dir: &Path, public_pem: &str, sig_b64: &str, file: &str) {
    std::fs::write(dir.join("verify.pub"), public_pem).unwrap();
    std::fs::write(dir.join("verify.b64"), sig_b64.trim()).unwrap();
    ok(Command::new(openssl)
        .args(["base64", "-d", "-A", "-in", "verify.b64", "-out", "verify.der"])
        .current_dir(dir)
        .output()
        .unwrap());
    let out = Command::new(openssl)
        .args(["dgst", "-sha256", "-verify", "verify.pub", "-signature", "verify.der", file])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(ok(out).trim(), "Verified OK");
}

#[test]
fn tpm_key_file_generate_public_sign_verify() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-tpm");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"image layer").unwrap();

    let public = ok(proofmark(&tpm, &["key", "generate", "tpm:signing.json"], d));
    assert_eq!(files(d), ["artifact", "signing.json"], "only the key file");
    // The public key comes from the key file alone.
    assert_eq!(ok(proofmark(&tpm, &["key", "public", "tpm:signing.json"], d)), public);

    let sig = ok(proofmark(&tpm, &["sign-blob", "--key", "tpm:signing.json", "artifact"], d));
    openssl_verifies(&openssl, d, &public, &sig, "artifact");

    std::fs::write(d.join("artifact.sig"), &sig).unwrap();
    std::fs::write(d.join("signing.pem"), &public).unwrap();
    let verdict = proofmark(
        &tpm,
        &["verify-blob", "--key", "signing.pem", "--signature", "artifact.sig", "artifact"],
        d,
    );
    assert!(verdict.status.success(), "{}", String::from_utf8_lossy(&verdict.stderr));
}

#[test]
fn tpm_persistent_key_lifecycle() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-tpm-persist");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"persisted").unwrap();

    let public = ok(proofmark(
        &tpm,
        &["key", "generate", "tpm:p.json", "--persist", "0x81000020", "--no-auth"],
        d,
    ));
    assert_eq!(ok(proofmark(&tpm, &["tpm", "list"], d)).trim(), "0x81000020");
    assert_eq!(ok(proofmark(&tpm, &["key", "public", "tpm:0x81000020"], d)), public);
    let sig = ok(proofmark(&tpm, &["sign-blob", "--key", "tpm:0x81000020", "artifact"], d));
    openssl_verifies(&openssl, d, &public, &sig, "artifact");

    ok(proofmark(&tpm, &["tpm", "evict", "0x81000020"], d));
    assert_eq!(ok(proofmark(&tpm, &["tpm", "list"], d)).trim(), "");
    let gone = proofmark(&tpm, &["sign-blob", "--key", "tpm:0x81000020", "artifact"], d);
    assert_eq!(gone.status.code(), Some(1));
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(err.contains("0x81000020"), "the error names the handle: {err}");
}

#[test]
fn tpm_info_reports_the_simulator() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tpm-info");
    let json = ok(proofmark(&tpm, &["tpm", "info", "--format", "json"], dir.path()));
    let info: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(info["tcti"], tpm.tcti());
    assert_eq!(info["manufacturer"], "IBM", "swtpm reports IBM's code: {info}");
    let algorithms = info["algorithms"].as_array().unwrap();
    assert!(algorithms.iter().any(|a| a == "ecdsa-sha2-256-nistp256"), "{info}");
    assert_eq!(info["lockout_counter"], 0);
}

#[test]
fn no_tpm_gives_an_error_naming_the_tcti() {
    let Some(mut tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-no-tpm");
    tpm.kill();
    let out = proofmark(&tpm, &["tpm", "info"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&tpm.tcti()), "{err}");
}

/// Issue 16, item 3: `key generate tpm:X.json` writes X.json and nothing else unless asked, never
/// replaces a file without --force, and the tpm2-tools files it writes on request load in
/// tpm2-tools (judged by tpm2_load and tpm2_readpublic).
#[test]
fn key_generate_writes_only_what_it_says_and_tpm2_tools_load_the_files() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tpm-files");
    let d = dir.path();
    // The user's own PEM public key, by the common NAME.pub convention.
    std::fs::write(d.join("app.pub"), "my PEM").unwrap();
    let out = proofmark(&tpm, &["key", "generate", "tpm:app.json"], d);
    let public = ok(out.clone());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "wrote tpm:app.json\n");
    assert_eq!(files(d), ["app.json", "app.pub"]);
    assert_eq!(std::fs::read_to_string(d.join("app.pub")).unwrap(), "my PEM");

    // Again: refused, and the key file is intact.
    let before = std::fs::read(d.join("app.json")).unwrap();
    let again = proofmark(&tpm, &["key", "generate", "tpm:app.json"], d);
    expect_test::expect![[r#"
        error: app.json already exists; pass --force to replace it
    "#]]
    .assert_eq(&error_of(&tpm, &again, d));
    assert_eq!(std::fs::read(d.join("app.json")).unwrap(), before);

    // A tpm2-tools file in the way: refused before anything is written.
    std::fs::write(d.join("tools.tpm2.priv"), "mine").unwrap();
    let args = ["key", "generate", "tpm:tools.json", "--tpm2-tools-files", "tools.tpm2"];
    expect_test::expect![[r#"
        error: tools.tpm2.priv already exists; pass --force to replace it
    "#]]
    .assert_eq(&error_of(&tpm, &proofmark(&tpm, &args, d), d));
    assert_eq!(files(d), ["app.json", "app.pub", "tools.tpm2.priv"]);
    std::fs::remove_file(d.join("tools.tpm2.priv")).unwrap();

    let out = proofmark(&tpm, &args, d);
    let tools_public = ok(out.clone());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wrote tpm:tools.json and, for tpm2-tools, tools.tpm2.pub and tools.tpm2.priv\n"
    );
    assert_ne!(tools_public, public);
    // The docs' recipe: tpm2-tools loads the key under the same primary and reads the same PEM.
    // ECC P-256 unique: 64 zero bytes, on standard input as the docs pipe them.
    let Some(_) = tool_with_input(
        &tpm,
        "tpm2_createprimary",
        &[
            "-C",
            "o",
            "-g",
            "sha256",
            "-G",
            "ecc256:aes128cfb",
            "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt",
            "-u",
            "-",
            "-c",
            "primary.ctx",
        ],
        d,
        &[0u8; 64],
    ) else {
        return;
    };
    // swtpm has 3 object slots and no resource manager.
    tool(&tpm, "tpm2_flushcontext", &["-t"], d);
    tool(
        &tpm,
        "tpm2_load",
        &["-C", "primary.ctx", "-u", "tools.tpm2.pub", "-r", "tools.tpm2.priv", "-c", "key.ctx"],
        d,
    );
    tool(&tpm, "tpm2_readpublic", &["-c", "key.ctx", "-f", "pem", "-o", "tools.pem"], d);
    tool(&tpm, "tpm2_flushcontext", &["-t"], d);
    assert_eq!(std::fs::read_to_string(d.join("tools.pem")).unwrap(), tools_public);
    // The key file alone still signs.
    std::fs::write(d.join("artifact"), b"x").unwrap();
    ok(proofmark(&tpm, &["sign-blob", "--key", "tpm:tools.json", "artifact"], d));
}

/// Issue 16, item 4: a `--persist` that fails leaves no file behind, and the retry needs no
/// --force.
#[test]
fn failed_persist_leaves_nothing_and_the_retry_works() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tpm-persist-fail");
    let d = dir.path();
    ok(proofmark(&tpm, &["key", "generate", "tpm:first.json", "--persist", "0x81000030"], d));
    std::fs::remove_file(d.join("first.json")).unwrap();

    let args = ["key", "generate", "tpm:k.json", "--persist", "0x81000030"];
    expect_test::expect![[r#"
        error: persistent handle 0x81000030 is already in use: choose a free one (`proofmark tpm list` shows those in use) or free it with `proofmark tpm evict 0x81000030`
    "#]]
    .assert_eq(&error_of(&tpm, &proofmark(&tpm, &args, d), d));
    assert!(files(d).is_empty(), "nothing left behind: {:?}", files(d));

    // A failure after the key was persisted (the key file cannot be written) evicts it again.
    let args_no_dir = ["key", "generate", "tpm:no-such-dir/k.json", "--persist", "0x81000031"];
    let out = proofmark(&tpm, &args_no_dir, d);
    assert!(
        error_of(&tpm, &out, d).starts_with("error: cannot save the key file no-such-dir/k.json"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ok(proofmark(&tpm, &["tpm", "list"], d)).trim(), "0x81000030");

    ok(proofmark(&tpm, &["tpm", "evict", "0x81000030"], d));
    let public = ok(proofmark(&tpm, &args, d));
    assert_eq!(files(d), ["k.json"]);
    assert_eq!(ok(proofmark(&tpm, &["key", "public", "tpm:0x81000030"], d)), public);
}

/// Issue 16, item 7: a key persisted as the docs show signs by its handle alone (no auth value
/// by default), and one with a user-chosen auth value says, when it is missing, to pass
/// --auth-env.
#[test]
fn persisted_keys_sign_by_handle_and_auth_errors_name_auth_env() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("cli-tpm-persist-auth");
    let d = dir.path();
    std::fs::write(d.join("artifact"), b"persisted").unwrap();

    let out = proofmark(&tpm, &["key", "generate", "tpm:p.json", "--persist", "0x81000010"], d);
    let public = ok(out.clone());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wrote tpm:p.json\npersisted at 0x81000010 (with no auth value: anyone who can use the \
         TPM can sign with it)\n"
    );
    let sig = ok(proofmark(&tpm, &["sign-blob", "--key", "tpm:0x81000010", "artifact"], d));
    openssl_verifies(&openssl, d, &public, &sig, "artifact");
    // The key file signs too, and says the same key.
    let sig = ok(proofmark(&tpm, &["sign-blob", "--key", "tpm:p.json", "artifact"], d));
    openssl_verifies(&openssl, d, &public, &sig, "artifact");

    let with_pin = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_proofmark"));
        cmd.arg("--tcti").arg(tpm.tcti()).args(args).current_dir(d);
        cmd.env("TSS2_LOG", "all+NONE").env("PIN", "correct horse");
        cmd.output().unwrap()
    };
    let generate =
        ["key", "generate", "tpm:u.json", "--persist", "0x81000011", "--auth-env", "PIN"];
    let out = with_pin(&generate);
    let public = ok(out.clone());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "wrote tpm:u.json\npersisted at 0x81000011 (its auth value is needed to sign with it: \
         pass the same --auth-env)\n"
    );
    let sig =
        ok(with_pin(&["sign-blob", "--key", "tpm:0x81000011", "--auth-env", "PIN", "artifact"]));
    openssl_verifies(&openssl, d, &public, &sig, "artifact");

    let by_handle = proofmark(&tpm, &["sign-blob", "--key", "tpm:0x81000011", "artifact"], d);
    expect_test::expect![[r#"
        error: signing artifact with tpm:0x81000011: the tpm signing backend failed: wrong auth value for the key during signing (TPM response 0x98e; the TPM's dictionary-attack counter was incremented)
        hint: if the key has a user-chosen auth value, pass --auth-env VAR, VAR being the environment variable that holds it; a key whose random auth value is in its key file signs by that file (tpm:KEYFILE), not by its persistent handle
    "#]]
    .assert_eq(&error_of(&tpm, &by_handle, d));
    let by_file = proofmark(&tpm, &["sign-blob", "--key", "tpm:u.json", "artifact"], d);
    expect_test::expect![[r#"
        error: cannot open the TPM key tpm:u.json: this key has a user-chosen auth value, which is not stored, and none was given
        hint: pass --auth-env VAR, VAR being the environment variable that holds the key's auth value
    "#]]
    .assert_eq(&error_of(&tpm, &by_file, d));
}

/// Issue 16, item 14: the TCG-reserved EK and platform ranges are refused by `tpm evict` (unless
/// --force) and by `--persist`.
#[test]
fn reserved_handles_are_refused() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tpm-reserved");
    let d = dir.path();
    // An endorsement key where the TCG puts it, made by tpm2-tools.
    let Some(_) = tool(&tpm, "tpm2_createprimary", &["-C", "e", "-c", "ek.ctx"], d) else {
        return;
    };
    tool(&tpm, "tpm2_evictcontrol", &["-C", "o", "-c", "ek.ctx", "0x81010001"], d);
    tool(&tpm, "tpm2_flushcontext", &["-t"], d);

    let refused = proofmark(&tpm, &["tpm", "evict", "0x81010001"], d);
    expect_test::expect![[r#"
        error: refusing to evict 0x81010001: it lies in 0x81010000..=0x8101ffff, which the TCG reserves for endorsement keys, and evicting cannot be undone (attestation relies on the endorsement key); pass --force if you mean it
    "#]]
    .assert_eq(&error_of(&tpm, &refused, d));
    let listed = tool(&tpm, "tpm2_getcap", &["handles-persistent"], d).unwrap();
    assert!(listed.contains("0x81010001"), "still there: {listed}");

    for handle in ["0x81010002", "0x81800000"] {
        let args = ["key", "generate", "tpm:k.json", "--persist", handle];
        let out = proofmark(&tpm, &args, d);
        assert!(
            error_of(&tpm, &out, d)
                .starts_with(&format!("error: cannot persist a key at {handle}: it lies in "))
        );
        assert!(!d.join("k.json").exists());
    }
    expect_test::expect![[r#"
        error: cannot persist a key at 0x81800000: it lies in 0x81800000..=0x81ffffff, which the TCG reserves for the platform; use an owner handle such as 0x81000010
    "#]]
    .assert_eq(&error_of(
        &tpm,
        &proofmark(&tpm, &["key", "generate", "tpm:k.json", "--persist", "0x81800000"], d),
        d,
    ));

    ok(proofmark(&tpm, &["tpm", "evict", "0x81010001", "--force"], d));
    let listed = tool(&tpm, "tpm2_getcap", &["handles-persistent"], d).unwrap();
    assert!(!listed.contains("0x81010001"), "evicted with --force: {listed}");
}

/// Issue 16, item 15: a TCTI where nothing answers is named once, with where it came from, and
/// the error says what is wrong instead of "response code not recognized".
#[test]
fn a_tcti_where_nothing_answers_is_named_with_its_origin() {
    let Some(mut tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tpm-nowhere");
    let d = dir.path();
    tpm.kill();
    let given = proofmark(&tpm, &["tpm", "list"], d);
    expect_test::expect![[r#"
        error: no TPM answers on TCTI `swtpm:host=127.0.0.1,port=PORT` (as given): nothing answers there: no simulator listens at that address, or the device does not exist or is not accessible to this user (libtss2's log above says which) (TSS2 response code 0xa000a)
    "#]]
    .assert_eq(&error_of(&tpm, &given, d));

    // A malformed TCTI says where it came from too.
    let bad = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(["tpm", "list"])
        .env("TPM2TOOLS_TCTI", "swtpm:host=127.0.0.1,prot=1")
        .output()
        .unwrap();
    expect_test::expect![[r#"
        error: invalid TCTI in TPM2TOOLS_TCTI: invalid TCTI `swtpm:host=127.0.0.1,prot=1`: unknown option `prot`; swtpm accepts host, port
    "#]]
    .assert_eq(&error_of(&tpm, &bad, d));

    let from_env = Command::new(env!("CARGO_BIN_EXE_proofmark"))
        .args(["sign-blob", "--key", "tpm:0x81000010", "x"])
        .current_dir(d)
        .env("TPM2TOOLS_TCTI", tpm.tcti())
        .env("TSS2_LOG", "all+NONE")
        .output()
        .unwrap();
    expect_test::expect![[r#"
        error: cannot open the TPM key tpm:0x81000010: no TPM answers on TCTI `swtpm:host=127.0.0.1,port=PORT` (from TPM2TOOLS_TCTI): nothing answers there: no simulator listens at that address, or the device does not exist or is not accessible to this user (libtss2's log above says which) (TSS2 response code 0xa000a)
    "#]]
    .assert_eq(&error_of(&tpm, &from_env, d));
}

/// Issue 16, item 10: `verify` and `policy` take the `tpm:` references `sign` takes, and use
/// their public key; a second key signs nothing here, so it verifies nothing (exit 3).
#[test]
fn verify_and_policy_take_tpm_key_references() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("cli-tpm-verify");
    let d = dir.path();
    let layout = proofmark_cosign::OciLayout::open_or_create(d.join("layout")).unwrap();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = proofmark_cosign::ImageStore::put_blob(&layout, config).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        config.len()
    );
    proofmark_cosign::ImageStore::put_manifest(
        &layout,
        "v1",
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    )
    .unwrap();

    let public = ok(proofmark(&tpm, &["key", "generate", "tpm:signing.json"], d));
    std::fs::write(d.join("signing.pub"), &public).unwrap();
    ok(proofmark(&tpm, &["key", "generate", "tpm:other.json", "--persist", "0x81000012"], d));
    let image = "oci:layout:v1";
    ok(proofmark(
        &tpm,
        &["sign", "--key", "tpm:signing.json", "--docker-reference", "r.io/app", image],
        d,
    ));
    for key in ["signing.pub", "tpm:signing.json", "tpm://signing.json"] {
        let args = ["verify", "--key", key, "--docker-reference", "r.io/app", image];
        let out = proofmark(&tpm, &args, d);
        assert!(out.status.success(), "{key}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let wrong = ["verify", "--key", "tpm:0x81000012", "--docker-reference", "r.io/app", image];
    assert_eq!(proofmark(&tpm, &wrong, d).status.code(), Some(3), "another key's public key");

    let policy =
        |key: &str| ok(proofmark(&tpm, &["policy", "--key", key, "--scope", "r.io/app"], d));
    assert_eq!(policy("tpm:signing.json"), policy("signing.pub"));
    assert_ne!(policy("tpm:0x81000012"), policy("signing.pub"));
}
