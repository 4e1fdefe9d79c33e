//! The registry client's auth: basic auth against Debian's docker-registry with a bcrypt
//! htpasswd file (`htpasswd -B`), with credentials inline or from a real docker credential
//! helper; and, against a scripted HTTP server, what docker-registry cannot do.
//!
//! SCRIPTED SERVER (`serve` below), kept only for what docker-registry 2.8 cannot be made to
//! do on loopback: the bearer-token exchange and the OAuth2 refresh-token grant of identity
//! tokens (its `token` auth needs a separate token server), a 401 with an empty body or without
//! a challenge (it always sends both), and manifests that are oversize or do not match their
//! digest (it checks what it stores).
#![allow(clippy::unwrap_used, reason = "tests")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use expect_test::expect;
use proofmark_cosign::{DockerConfig, Error, ImageStore as _, RegistryClient, RegistryOptions};

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;
const TOKEN: &str = "tok-123";
const REFRESH: &str = "refresh-456";

struct Request {
    path: String,
    authorization: Option<String>,
}

/// Serves scripted answers; records every request.
fn serve(log: Arc<Mutex<Vec<Request>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let realm = format!("http://{addr}/token");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let (log, realm) = (log.clone(), realm.clone());
            std::thread::spawn(move || handle(stream.unwrap(), &log, &realm));
        }
    });
    addr
}

fn handle(stream: TcpStream, log: &Mutex<Vec<Request>>, realm: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let (mut authorization, mut length) = (None, 0usize);
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            match k.to_ascii_lowercase().as_str() {
                "authorization" => authorization = Some(v.trim().to_owned()),
                "content-length" => length = v.trim().parse().unwrap(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let basic = format!("Basic {}", STANDARD.encode("alice:s3cret"));
        let form = String::from_utf8_lossy(&body);
        let (status, headers, body): (u16, Vec<String>, Vec<u8>) = if path == "/token" {
            // OAuth2 refresh-token grant (identity tokens).
            if line.starts_with("POST ")
                && form.contains("grant_type=refresh_token")
                && form.contains(&format!("refresh_token={REFRESH}"))
            {
                (200, vec![], format!(r#"{{"access_token":"{TOKEN}"}}"#).into_bytes())
            } else {
                (401, vec![], b"{}".to_vec())
            }
        } else if path.starts_with("/token?") {
            if authorization.as_deref() == Some(basic.as_str()) {
                (200, vec![], format!(r#"{{"token":"{TOKEN}"}}"#).into_bytes())
            } else {
                (401, vec![], b"{}".to_vec())
            }
        } else if path.starts_with("/v2/bearer/") {
            if authorization.as_deref() == Some(&format!("Bearer {TOKEN}")) {
                manifest_response(&path)
            } else {
                let challenge = format!(
                    r#"WWW-Authenticate: Bearer realm="{realm}",service="mock registry",scope="repository:bearer:pull""#
                );
                (401, vec![challenge], b"{}".to_vec())
            }
        } else if path.starts_with("/v2/refused/") {
            // Wrong credentials, answered as some proxies do: a challenge and no body.
            (401, vec![r#"WWW-Authenticate: Basic realm="mock""#.to_owned()], Vec::new())
        } else if path.starts_with("/v2/unchallenged/") {
            (401, vec![], Vec::new())
        } else if path.starts_with("/v2/basic/") {
            if authorization.as_deref() == Some(basic.as_str()) {
                manifest_response(&path)
            } else {
                (401, vec![r#"WWW-Authenticate: Basic realm="mock""#.to_owned()], b"{}".to_vec())
            }
        } else {
            manifest_response(&path)
        };
        log.lock().unwrap().push(Request { path, authorization });
        let mut response = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
        for h in headers {
            response.push_str(&h);
            response.push_str("\r\n");
        }
        response.push_str("\r\n");
        // The client may hang up early (size limits): that is not the server's failure.
        if stream.write_all(response.as_bytes()).and_then(|()| stream.write_all(&body)).is_err() {
            return;
        }
    }
}

fn manifest_response(path: &str) -> (u16, Vec<String>, Vec<u8>) {
    let ct = "Content-Type: application/vnd.oci.image.manifest.v1+json".to_owned();
    if path.ends_with("/manifests/big") {
        (200, vec![ct], vec![b' '; (4 << 20) + 1])
    } else if path.ends_with("/manifests/lying") {
        let wrong = "Docker-Content-Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000";
        (200, vec![ct, wrong.to_owned()], MANIFEST.to_vec())
    } else if path.contains("/manifests/") {
        (200, vec![ct], MANIFEST.to_vec())
    } else {
        (404, vec![], b"{}".to_vec())
    }
}

fn client(addr: &str, with_creds: bool) -> RegistryClient {
    let config =
        format!(r#"{{"auths":{{"{addr}":{{"auth":"{}"}}}}}}"#, STANDARD.encode("alice:s3cret"));
    let docker_config = if with_creds {
        DockerConfig::parse(config.as_bytes()).unwrap()
    } else {
        DockerConfig::default()
    };
    RegistryClient::new(RegistryOptions {
        allow_insecure: vec![addr.to_owned()],
        docker_config,
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn bearer_token_flow() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let addr = serve(log.clone());
    let repo = client(&addr, true).repository(&addr, "bearer");
    let m = repo.get_manifest("v1").unwrap().unwrap();
    assert_eq!(m.bytes, MANIFEST);
    assert_eq!(m.media_type, "application/vnd.oci.image.manifest.v1+json");
    // The token is cached: a second request needs no new token.
    repo.get_manifest("v2").unwrap().unwrap();
    let log = log.lock().unwrap();
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert_eq!(paths[0], "/v2/bearer/manifests/v1");
    assert!(paths[1].starts_with("/token?"));
    assert!(paths[1].contains("scope=repository%3Abearer%3Apull"), "{}", paths[1]);
    assert!(
        paths[1].contains("service=mock%20registry") || paths[1].contains("service=mock+registry"),
        "{}",
        paths[1]
    );
    assert_eq!(log[2].authorization.as_deref(), Some("Bearer tok-123"));
    assert_eq!(paths[3], "/v2/bearer/manifests/v2");
}

#[test]
fn bearer_without_credentials_fails_clearly() {
    let addr = serve(Arc::default());
    let err = client(&addr, false).repository(&addr, "bearer").get_manifest("v1").unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err}");
    assert!(err.to_string().contains("HTTP 401"), "{err}");
}

/// docker-registry's htpasswd: the right password gets through (to a 404: nothing is
/// stored), no credentials or a wrong password get an auth error.
#[test]
fn basic_auth() {
    use proofmark_test_support::registry::{HTPASSWD_PASSWORD, HTPASSWD_USER, Registry};
    let Some(reg) = Registry::start_with_htpasswd() else { return };
    let addr = reg.addr();
    let with = |password: &str| {
        let auth = STANDARD.encode(format!("{HTPASSWD_USER}:{password}"));
        let config = format!(r#"{{"auths":{{"{addr}":{{"auth":"{auth}"}}}}}}"#);
        client_with(&addr, DockerConfig::parse(config.as_bytes()).unwrap())
    };
    let repo = with(HTPASSWD_PASSWORD).repository(&addr, "basic");
    assert!(repo.get_manifest("v1").unwrap().is_none());
    for refused in [client(&addr, false), with("wrong")] {
        let err = refused.repository(&addr, "basic").get_manifest("v1").unwrap_err();
        assert!(matches!(err, Error::Auth { .. }), "{err}");
    }
}

#[test]
fn limits_and_digests() {
    let addr = serve(Arc::default());
    let repo = client(&addr, false).repository(&addr, "open");
    assert!(matches!(repo.get_manifest("big"), Err(Error::TooLarge { .. })));
    assert!(matches!(repo.get_manifest("lying"), Err(Error::DigestMismatch { .. })));
    let wrong = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    assert!(matches!(repo.get_manifest(wrong), Err(Error::DigestMismatch { .. })));
    assert!(matches!(repo.get_manifest("sha256:zz"), Err(Error::InvalidDigest(_))));
    assert!(!repo.has_blob(wrong).unwrap());
}

fn client_with(addr: &str, docker_config: DockerConfig) -> RegistryClient {
    RegistryClient::new(RegistryOptions {
        allow_insecure: vec![addr.to_owned()],
        docker_config,
        ..Default::default()
    })
    .unwrap()
}

/// A folder with executable scripts, for a `PATH` that finds them.
fn script_dir(scripts: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = proofmark_test_support::temp_dir("cred-helpers");
    for (name, text) in scripts {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn path_with(dir: &std::path::Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_owned()];
    paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(paths).unwrap()
}

/// `docker-credential-pass` (Debian's golang-docker-credential-helpers) over `pass` and a
/// throw-away GnuPG home: `credsStore` and `credHelpers` both log in to docker-registry with
/// htpasswd basic auth.
#[test]
fn docker_credential_pass_helper() {
    use proofmark_test_support::registry::{HTPASSWD_PASSWORD, HTPASSWD_USER, Registry};
    use proofmark_test_support::require_tool;
    let Some(helper) = require_tool("docker-credential-pass", "golang-docker-credential-helpers")
    else {
        return;
    };
    let Some(pass) = require_tool("pass", "pass") else { return };
    let Some(gpg) = require_tool("gpg", "gnupg") else { return };
    let dir = proofmark_test_support::temp_dir("cred-pass");
    let gnupg = dir.path().join("gnupg");
    let store = dir.path().join("store");
    std::fs::create_dir(&gnupg).unwrap();
    std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let env = [("GNUPGHOME", gnupg.as_os_str()), ("PASSWORD_STORE_DIR", store.as_os_str())];
    let run = |program: &std::path::Path, args: &[&str], stdin: Option<&str>| {
        let mut child = std::process::Command::new(program)
            .args(args)
            .envs(env)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{program:?} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // gpg starts an agent for this home; stop it however the test ends.
    struct StopAgent<'a>(&'a std::path::Path);
    impl Drop for StopAgent<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("gpgconf")
                .args(["--kill", "gpg-agent"])
                .env("GNUPGHOME", self.0)
                .status();
        }
    }
    let _agent = StopAgent(&gnupg);
    run(
        &gpg,
        &[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            "proofmark test <test@example.invalid>",
            "default",
            "default",
            "never",
        ],
        None,
    );
    let listing = run(&gpg, &["--batch", "--list-keys", "--with-colons"], None);
    let fingerprint =
        listing.lines().find_map(|l| l.strip_prefix("fpr:")).unwrap().trim_matches(':').to_owned();
    run(&pass, &["init", &fingerprint], None);

    let Some(reg) = Registry::start_with_htpasswd() else { return };
    let addr = reg.addr();
    let entry = format!(
        r#"{{"ServerURL":"{addr}","Username":"{HTPASSWD_USER}","Secret":"{HTPASSWD_PASSWORD}"}}"#
    );
    run(&helper, &["store"], Some(&entry));

    for json in [
        r#"{"credsStore":"pass"}"#.to_owned(),
        format!(r#"{{"credHelpers":{{"{addr}":"pass"}},"auths":{{"{addr}":{{}}}}}}"#),
    ] {
        let config = DockerConfig::parse(json.as_bytes())
            .unwrap()
            .with_helper_env("GNUPGHOME", &gnupg)
            .with_helper_env("PASSWORD_STORE_DIR", &store);
        // Through auth to the registry's answer: nothing stored under v1.
        let repo = client_with(&addr, config).repository(&addr, "basic");
        assert!(repo.get_manifest("v1").unwrap().is_none(), "{json}");
    }
    // A registry the helper has no entry for: anonymous, so basic auth is refused.
    let other_registry = Registry::start_with_htpasswd().unwrap();
    let other = other_registry.addr();
    let config = DockerConfig::parse(br#"{"credsStore":"pass"}"#)
        .unwrap()
        .with_helper_env("GNUPGHOME", &gnupg)
        .with_helper_env("PASSWORD_STORE_DIR", &store);
    let err =
        client_with(&other, config).repository(&other, "basic").get_manifest("v1").unwrap_err();
    expect![[r#"authentication with ADDR failed: the registry wants basic auth and there are no credentials for ADDR in the credential helper docker-credential-pass (credsStore in the docker config.json)"#]]
    .assert_eq(&err.to_string().replace(&other, "ADDR"));
}

/// Helpers that fail, are missing, or answer an identity token.
#[test]
fn credential_helper_errors_and_identity_tokens() {
    let bin = script_dir(&[
        ("docker-credential-broken", "#!/bin/sh\necho 'vault sealed' >&2\nexit 3\n"),
        ("docker-credential-garbage", "#!/bin/sh\necho 'not json'\n"),
        (
            "docker-credential-token",
            &format!(
                "#!/bin/sh\nread url\necho '{{\"ServerURL\":\"'$url'\",\"Username\":\"<token>\",\"Secret\":\"{REFRESH}\"}}'\n"
            ),
        ),
    ]);
    let addr = serve(Arc::default());
    let config = |store: &str| {
        DockerConfig::parse(format!(r#"{{"credsStore":"{store}"}}"#).as_bytes())
            .unwrap()
            .with_helper_env("PATH", path_with(bin.path()))
    };
    for (store, expected) in [
        ("broken", "vault sealed"),
        ("garbage", "not the expected JSON"),
        ("proofmark-absent", "not found on PATH"),
    ] {
        let err = client_with(&addr, config(store))
            .repository(&addr, "basic")
            .get_manifest("v1")
            .unwrap_err();
        let Error::CredentialHelper { helper, reason } = &err else { panic!("{err}") };
        assert_eq!(helper, &format!("docker-credential-{store}"));
        assert!(reason.contains(expected), "{reason}");
    }
    // The identity token is exchanged with the refresh-token grant, then used as a bearer token.
    let repo = client_with(&addr, config("token")).repository(&addr, "bearer");
    assert_eq!(repo.get_manifest("v1").unwrap().unwrap().bytes, MANIFEST);
    // Basic auth cannot use an identity token.
    let err = client_with(&addr, config("token")).repository(&addr, "basic").get_manifest("v1");
    assert!(matches!(err, Err(Error::Auth { .. })), "{err:?}");
}

/// Issue 16, item 15: a 401 with an empty body says which credentials were tried and where
/// they came from (never the secret).
#[test]
fn empty_401_names_the_credentials_tried() {
    let addr = serve(Arc::default());
    let config =
        format!(r#"{{"auths":{{"{addr}":{{"auth":"{}"}}}}}}"#, STANDARD.encode("alice:s3cret"));
    let with_creds =
        DockerConfig::parse(config.as_bytes()).unwrap().with_origin("/home/u/.docker/config.json");
    let message = |config: DockerConfig, repo: &str| {
        let err =
            client_with(&addr, config).repository(&addr, repo).get_manifest("v1").unwrap_err();
        assert!(matches!(err, Error::Auth { .. }), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        err.to_string().replace(&addr, "ADDR")
    };
    expect![[r#"authentication with ADDR failed: GET http://ADDR/v2/refused/manifests/v1 returned HTTP 401 with an empty body; tried user "alice" and its password from the auths entry for ADDR in /home/u/.docker/config.json"#]]
    .assert_eq(&message(with_creds.clone(), "refused"));
    expect![[r#"authentication with ADDR failed: GET http://ADDR/v2/unchallenged/manifests/v1 returned HTTP 401 with an empty body; the registry sent no WWW-Authenticate challenge, so no credentials were sent"#]]
    .assert_eq(&message(with_creds, "unchallenged"));
    let empty = DockerConfig::default().with_origin("/nowhere/config.json (which does not exist)");
    expect![[r#"authentication with ADDR failed: the registry wants basic auth and there are no credentials for ADDR in /nowhere/config.json (which does not exist)"#]]
    .assert_eq(&message(empty, "refused"));
}
