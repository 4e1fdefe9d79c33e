//! Image references: `registry/repository[:tag][@digest]` and `oci:PATH[:TAG][@digest]`.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// In a registry.
    Registry(RegistryRef),
    /// In an OCI image layout folder.
    Layout {
        /// The layout folder.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` to use, if any.
        tag: Option<String>,
        /// The manifest digest (`oci:PATH@sha256:…`), if any; it wins over the tag.
        digest: Option<String>,
    },
}

/// An image in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRef {
    /// The registry as named (`127.0.0.1:5000`, `ghcr.io`, `index.docker.io`).
    pub registry: String,
    /// The repository (`test/img`, `library/alpine`).
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest, if any.
    pub digest: Option<String>,
}

impl RegistryRef {
    /// `registry/repository`: what cosign writes as `docker-reference`.
    pub fn repository_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The host to send API requests to (Docker Hub's API lives at `registry-1.docker.io`).
    pub fn api_host(&self) -> &str {
        if self.registry == "index.docker.io" { "registry-1.docker.io" } else { &self.registry }
    }

    /// The tag or digest to resolve (digest wins; `latest` when neither is given).
    pub fn reference(&self) -> &str {
        self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest")
    }
}

impl ImageRef {
    /// Parses `oci:PATH[:TAG][@sha256:…]` or a registry reference. Like docker, a first component without
    /// `.` or `:` (and not `localhost`) means Docker Hub, and single names get `library/`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = |reason| Error::InvalidReference { reference: s.into(), reason };
        if let Some(rest) = s.strip_prefix("oci:") {
            // A digest is `@sha256:` and what follows; an '@' elsewhere is part of the path.
            let (rest, digest) = match rest.rsplit_once("@sha256:") {
                Some((r, hex)) => {
                    let digest = format!("sha256:{hex}");
                    crate::digest::digest_hex(&digest)?;
                    (r, Some(digest))
                }
                None => (rest, None),
            };
            if rest.is_empty() {
                return Err(bad("oci: needs a path"));
            }
            // The tag is after the last ':' unless that ':' is part of the path.
            let (path, tag) = match rest.rsplit_once(':') {
                Some((p, t)) if !t.contains('/') && !p.is_empty() => (p, Some(t.to_owned())),
                _ => (rest, None),
            };
            return Ok(Self::Layout { path: PathBuf::from(path), tag, digest });
        }
        let s2 = s.strip_prefix("docker://").unwrap_or(s);
        let (name, digest) = match s2.split_once('@') {
            Some((n, d)) => {
                crate::digest::digest_hex(d)?;
                (n, Some(d.to_owned()))
            }
            None => (s2, None),
        };
        let (name, tag) = match name.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t.to_owned())),
            _ => (name, None),
        };
        if name.is_empty() {
            return Err(bad("empty repository"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            Some(_) => ("index.docker.io".to_owned(), name.to_owned()),
            None => ("index.docker.io".to_owned(), format!("library/{name}")),
        };
        let registry =
            if registry == "docker.io" { "index.docker.io".to_owned() } else { registry };
        let valid_repo = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !valid_repo {
            return Err(bad(
                "repository components must be lowercase letters, digits, '.', '_' or '-'",
            ));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                return Err(bad("invalid tag"));
            }
        }
        Ok(Self::Registry(RegistryRef { registry, repository, tag, digest }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
            ("127.0.0.1:5000/test/img:v1", "127.0.0.1:5000", "test/img", Some("v1"), false),
            ("alpine", "index.docker.io", "library/alpine", None, false),
            ("docker.io/foo/bar:1", "index.docker.io", "foo/bar", Some("1"), false),
            ("localhost/x", "localhost", "x", None, false),
        ];
        for (s, reg, repo, tag, _) in cases {
            let ImageRef::Registry(r) = ImageRef::parse(s).unwrap() else { panic!("{s}") };
            assert_eq!(
                (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
                (*reg, *repo, *tag)
            );
        }
        let ImageRef::Registry(r) = ImageRef::parse(&format!("ghcr.io/a/b:t@{d}")).unwrap() else {
            panic!()
        };
        assert_eq!(r.reference(), d);
        assert_eq!(r.repository_name(), "ghcr.io/a/b");
        let layout = |path: &str, tag: Option<&str>, digest: Option<&str>| ImageRef::Layout {
            path: path.into(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        };
        assert_eq!(ImageRef::parse("oci:/tmp/x:v1").unwrap(), layout("/tmp/x", Some("v1"), None));
        assert_eq!(ImageRef::parse("oci:/tmp/x").unwrap(), layout("/tmp/x", None, None));
        assert_eq!(ImageRef::parse(&format!("oci:x@{d}")).unwrap(), layout("x", None, Some(d)));
        assert_eq!(
            ImageRef::parse(&format!("oci:./a@b/x:v1@{d}")).unwrap(),
            layout("./a@b/x", Some("v1"), Some(d))
        );
        for bad in [
            "",
            "UPPER/case",
            "host/a@sha256:00",
            "oci:",
            "a/b:bad tag",
            "oci:x@sha256:00",
            &format!("oci:@{d}"),
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }
}
