//! Interoperability with tpm2-tools, both ways, and PEM export identical to `tpm2_readpublic`.

use std::path::Path;

use proofmark_test_support::{require_tool, swtpm::Swtpm, temp_dir};
use proofmark_tpm::{AuthValue, KeyAuth, KeyFile, ParentTemplate, StoredAuth, Tpm, TpmSigner};
use proofmark_types::{Signature, SignatureAlgorithm, Signer as _};

use crate::{flush_transients, openssl_verify, run, tcti, tool};

const PRIMARY_ATTRS: &str =
    "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt";

/// `tpm2_createprimary` with the same template as `parent` (the TCG reference SRK: its
/// `unique` is all zeros, given on stdin); returns the primary's TPM name.
fn tools_primary(tpm: &Swtpm, dir: &Path, parent: ParentTemplate) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let ctx = dir.join("primary.ctx");
    let name = dir.join("primary.name");
    let unique = match parent {
        ParentTemplate::Rsa2048 => 256,
        _ => 64,
    };
    let mut child = tool(tpm, "tpm2_createprimary")?
        .args(["-C", "o", "-g", "sha256", "-G", parent.tpm2_tools_alg(), "-a", PRIMARY_ATTRS])
        .args(["-u", "-", "-c"])
        .arg(&ctx)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&vec![0u8; unique]).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    flush_transients(tpm);
    run(tool(tpm, "tpm2_readpublic")?.arg("-c").arg(&ctx).arg("-n").arg(&name));
    flush_transients(tpm);
    Some(std::fs::read(name).unwrap())
}

#[test]
fn our_keys_load_in_tpm2_tools_with_identical_pem_and_signatures() {
    let Some(tpm) = Swtpm::start() else { return };
    let dir = temp_dir("tpm-interop");
    let d = dir.path();
    let tcti = tcti(&tpm);
    let cases = [
        (SignatureAlgorithm::EcdsaP256Sha256, ParentTemplate::EccP256),
        (SignatureAlgorithm::EcdsaP384Sha384, ParentTemplate::EccP256),
        (SignatureAlgorithm::RsaPss2048Sha256, ParentTemplate::Rsa2048),
        (SignatureAlgorithm::RsaPkcs1v15_3072Sha256, ParentTemplate::EccP256),
    ];
    for (algorithm, parent) in cases {
        let path = d.join(format!("{algorithm}.json"));
        let key =
            Tpm::connect(&tcti).unwrap().create_key(algorithm, parent, &KeyAuth::Random).unwrap();
        key.save(&path).unwrap();
        let (pub_path, priv_path) = KeyFile::tpm2_tools_paths(&d.join(format!("{algorithm}")));
        key.save_tpm2_tools(&pub_path, &priv_path, true).unwrap();
        let Some(primary_name) = tools_primary(&tpm, d, parent) else { return };
        assert_eq!(hex::encode(&primary_name), hex::encode(key.parent_name()), "primary names");

        let key_ctx = d.join("key.ctx");
        let Some(mut load) = tool(&tpm, "tpm2_load") else { return };
        run(load
            .args(["-C".as_ref(), d.join("primary.ctx").as_os_str()])
            .args(["-u".as_ref(), pub_path.as_os_str(), "-r".as_ref(), priv_path.as_os_str()])
            .args(["-c".as_ref(), key_ctx.as_os_str()]));
        flush_transients(&tpm);
        let pem_path = d.join("tools.pem");
        let Some(mut readpublic) = tool(&tpm, "tpm2_readpublic") else { return };
        run(readpublic.arg("-c").arg(&key_ctx).args(["-f", "pem", "-o"]).arg(&pem_path));
        flush_transients(&tpm);
        let tools_pem = std::fs::read_to_string(&pem_path).unwrap();
        assert_eq!(key.public_key().unwrap().to_pem(), tools_pem, "{algorithm}");

        // tpm2_sign with our key; we verify.
        let StoredAuth::Random(auth) = key.auth() else { panic!("random auth expected") };
        let message = b"signed by tpm2_sign";
        let (msg_path, sig_path) = (d.join("msg"), d.join("sig"));
        std::fs::write(&msg_path, message).unwrap();
        let Some(mut sign) = tool(&tpm, "tpm2_sign") else { return };
        sign.arg("-c").arg(&key_ctx).args(["-g", algorithm.hash().name(), "-f", "plain"]);
        if algorithm.rsa_padding() == Some(proofmark_types::RsaPadding::Pss) {
            sign.args(["-s", "rsapss"]);
        }
        run(sign
            .arg("-p")
            .arg(format!("hex:{}", hex::encode(auth.expose())))
            .arg("-o")
            .arg(&sig_path)
            .arg(&msg_path));
        flush_transients(&tpm);
        let signature = Signature::new(algorithm, &std::fs::read(&sig_path).unwrap()).unwrap();
        proofmark_types::verify_message(&key.public_key().unwrap(), algorithm, message, &signature)
            .unwrap();

        // And the signer exports the same PEM.
        let signer = TpmSigner::open_file(&tcti, &path, None).unwrap();
        assert_eq!(signer.public_key_pem(), tools_pem);
    }
}

#[test]
fn keys_made_by_tpm2_create_are_used_by_us() {
    let Some(tpm) = Swtpm::start() else { return };
    let Some(openssl) = require_tool("openssl", "openssl") else { return };
    let dir = temp_dir("tpm-import");
    let d = dir.path();
    let cases = [
        ("ecc256:ecdsa-sha256", SignatureAlgorithm::EcdsaP256Sha256),
        ("ecc384:ecdsa-sha384", SignatureAlgorithm::EcdsaP384Sha384),
        ("rsa2048:rsassa-sha256", SignatureAlgorithm::RsaPkcs1v15_2048Sha256),
    ];
    for (alg, algorithm) in cases {
        if tools_primary(&tpm, d, ParentTemplate::EccP256).is_none() {
            return;
        }
        let (pub_path, priv_path) = (d.join("k.pub"), d.join("k.priv"));
        let Some(mut create) = tool(&tpm, "tpm2_create") else { return };
        run(create
            .arg("-C")
            .arg(d.join("primary.ctx"))
            .args(["-G", alg, "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign"])
            .args(["-p", "correct horse"])
            .arg("-u")
            .arg(&pub_path)
            .arg("-r")
            .arg(&priv_path));
        flush_transients(&tpm);

        let tcti = tcti(&tpm);
        let auth = AuthValue::new(b"correct horse".to_vec()).unwrap();
        let (public, private) = KeyFile::read_tpm2_tools(&pub_path, &priv_path).unwrap();
        let key = Tpm::connect(&tcti)
            .unwrap()
            .import(public, private, ParentTemplate::EccP256, Some(&auth))
            .unwrap();
        assert_eq!(key.algorithm(), algorithm);
        assert_eq!(key.auth(), &StoredAuth::User);
        let path = d.join("imported.json");
        key.save(&path).unwrap();
        // The .pub/.priv we write back are byte-identical to tpm2_create's.
        let (our_pub, our_priv) = KeyFile::tpm2_tools_paths(&d.join("imported"));
        key.save_tpm2_tools(&our_pub, &our_priv, true).unwrap();
        assert_eq!(std::fs::read(our_pub).unwrap(), std::fs::read(&pub_path).unwrap());
        assert_eq!(std::fs::read(our_priv).unwrap(), std::fs::read(&priv_path).unwrap());

        let signer = TpmSigner::open_file(&tcti, &path, Some(auth)).unwrap();
        let message = b"imported from tpm2-tools";
        let signature = signer.sign(message).unwrap();
        openssl_verify(
            &openssl,
            d,
            algorithm,
            &signer.public_key_pem(),
            message,
            signature.as_bytes(),
        );
    }
}
