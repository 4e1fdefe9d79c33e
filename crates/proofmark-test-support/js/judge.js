// The sigstore-js judge of proofmark's Sigstore bundles (run by proofmark-test-support).
//
//   node judge.js verify --bundle FILE --key PUB.pem [--artifact FILE] [--digest sha256:HEX]
//                        [--predicate-type URI]
//     Verifies the bundle with @sigstore/bundle (shape) and @sigstore/verify (signature), the
//     public key being the only trust material: no transparency log, no timestamp authority,
//     no certificate authority. A message-signature bundle is checked against --artifact; a
//     DSSE bundle's in-toto Statement must name --digest among its subjects and carry
//     --predicate-type. Prints a JSON summary; exits 0 when valid, 1 otherwise.
//
//   node judge.js sign-dsse --key PRIV.pem --payload FILE [--payload-type T] [--hint H]
//   node judge.js sign-message --key PRIV.pem --artifact FILE [--hint H]
//     Writes a bundle made by @sigstore/sign's DSSEBundleBuilder / MessageSignatureBundleBuilder
//     with a local key (no Fulcio, no Rekor) to standard output.
'use strict';
const fs = require('node:fs');
const crypto = require('node:crypto');
const { bundleFromJSON, bundleToJSON, assertBundle, BUNDLE_V03_MEDIA_TYPE } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { DSSEBundleBuilder, MessageSignatureBundleBuilder } = require('@sigstore/sign');

function args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

function verify(a) {
  const json = JSON.parse(fs.readFileSync(a.bundle, 'utf8'));
  if (json.mediaType !== BUNDLE_V03_MEDIA_TYPE) throw new Error(`media type ${json.mediaType}`);
  const bundle = bundleFromJSON(json);
  assertBundle(bundle);
  const key = crypto.createPublicKey(fs.readFileSync(a.key));
  const der = key.export({ type: 'spki', format: 'der' });
  const keyHint = crypto.createHash('sha256').update(der).digest('base64');
  // The given key is the only trusted key, whatever the bundle's hint says.
  const trust = toTrustMaterial(
    { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] },
    () => ({ publicKey: key, validFor: () => true }),
  );
  const artifact = a.artifact ? fs.readFileSync(a.artifact) : undefined;
  if (bundle.content.$case === 'messageSignature' && !artifact) throw new Error('a message signature needs --artifact');
  const entity = toSignedEntity(bundle, artifact);
  new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
  const summary = { ok: true, content: bundle.content.$case, hint: bundle.verificationMaterial.content.publicKey?.hint ?? null, keyHint };
  if (bundle.content.$case === 'messageSignature') {
    const digest = crypto.createHash('sha256').update(artifact).digest();
    if (!digest.equals(Buffer.from(bundle.content.messageSignature.messageDigest.digest))) throw new Error('messageDigest is not the artifact digest');
  } else {
    const env = bundle.content.dsseEnvelope;
    summary.payloadType = env.payloadType;
    if (env.payloadType !== 'application/vnd.in-toto+json') throw new Error(`payload type ${env.payloadType}`);
    const statement = JSON.parse(Buffer.from(env.payload).toString('utf8'));
    summary.predicateType = statement.predicateType;
    if (statement._type !== 'https://in-toto.io/Statement/v1') throw new Error(`statement type ${statement._type}`);
    if (a.digest) {
      const [alg, hex] = a.digest.split(':');
      if (!statement.subject.some((s) => s.digest && s.digest[alg] === hex)) throw new Error(`no subject ${a.digest}`);
    }
    if (a['predicate-type'] && statement.predicateType !== a['predicate-type']) throw new Error(`predicate type ${statement.predicateType}`);
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

function localSigner(a) {
  const priv = crypto.createPrivateKey(fs.readFileSync(a.key));
  const pub = crypto.createPublicKey(priv);
  const hint = a.hint ?? crypto.createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('base64');
  return {
    sign: async (data) => ({
      signature: crypto.sign('sha256', data, priv),
      key: { $case: 'publicKey', publicKey: pub.export({ type: 'spki', format: 'pem' }), hint },
    }),
  };
}

async function sign(kind, a) {
  const signer = localSigner(a);
  const bundle = kind === 'sign-dsse'
    ? await new DSSEBundleBuilder({ signer, witnesses: [] }).create({
        data: fs.readFileSync(a.payload), type: a['payload-type'] ?? 'application/vnd.in-toto+json' })
    : await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({ data: fs.readFileSync(a.artifact) });
  process.stdout.write(JSON.stringify(bundleToJSON(bundle)) + '\n');
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const a = args(rest);
  if (cmd === 'verify') return verify(a);
  if (cmd === 'sign-dsse' || cmd === 'sign-message') return sign(cmd, a);
  throw new Error(`unknown command ${cmd}`);
}

main().catch((e) => {
  process.stderr.write(`sigstore-js: ${e.code ? e.code + ': ' : ''}${e.message}\n`);
  process.exit(1);
});
