//! Resolving `--user` / the image's `USER` against the container's own `/etc/passwd`
//! and `/etc/group`, as docker does before it starts the process.
//!
//! The files are read from the container's root through
//! `berth_stdx::rootpath::resolve_in_root`: an image may ship `/etc/passwd` as a
//! symlink to a host path, and following it naively would read the host's file.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the user's memberships in `/etc/group` plus `--group-add`.
    pub additional_gids: Vec<u32>,
    /// The user's home from passwd, `/` when unknown (docker sets HOME from it).
    pub home: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoGroup(String),
    #[error("invalid user specification {0:?}")]
    Invalid(String),
}

#[derive(Debug, Clone)]
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

#[derive(Debug, Clone)]
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Resolves `spec` (`""`, `name`, `uid`, `name:group`, `uid:gid`, ...) inside `rootfs`,
/// adding `group_add` (names or numbers) to the supplementary groups.
pub fn resolve(rootfs: &Path, spec: &str, group_add: &[String]) -> Result<ExecUser, UserError> {
    let passwd = read_in_root(rootfs, "/etc/passwd");
    let group = read_in_root(rootfs, "/etc/group");
    resolve_from(&passwd, &group, spec, group_add)
}

fn read_in_root(rootfs: &Path, path: &str) -> String {
    berth_stdx::rootpath::resolve_in_root(rootfs, Path::new(path))
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

/// The pure part of [`resolve`], over the two files' contents.
pub fn resolve_from(
    passwd: &str,
    group: &str,
    spec: &str,
    group_add: &[String],
) -> Result<ExecUser, UserError> {
    let users = parse_passwd(passwd);
    let groups = parse_group(group);
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if spec.contains(char::is_whitespace) || group_part.is_some_and(|g| g.contains(':')) {
        return Err(UserError::Invalid(spec.to_string()));
    }

    // docker: an empty user is root; a numeric user need not exist in passwd.
    let (uid, mut gid, name, home) = if user_part.is_empty() {
        match users.iter().find(|u| u.uid == 0) {
            Some(u) => (0, u.gid, Some(u.name.clone()), u.home.clone()),
            None => (0, 0, None, "/root".to_string()),
        }
    } else if let Some(u) = users.iter().find(|u| u.name == user_part) {
        (u.uid, u.gid, Some(u.name.clone()), u.home.clone())
    } else if let Ok(n) = user_part.parse::<u32>() {
        match users.iter().find(|u| u.uid == n) {
            Some(u) => (n, u.gid, Some(u.name.clone()), u.home.clone()),
            None => (n, 0, None, "/".to_string()),
        }
    } else {
        return Err(UserError::NoUser(user_part.to_string()));
    };

    if let Some(g) = group_part.filter(|g| !g.is_empty()) {
        gid = lookup_group(&groups, g)?;
    }

    let mut additional: Vec<u32> = Vec::new();
    // Memberships count only when no explicit group was asked for, as in runc/docker.
    if group_part.is_none()
        && let Some(name) = &name
    {
        for g in &groups {
            if g.members.iter().any(|m| m == name) && !additional.contains(&g.gid) {
                additional.push(g.gid);
            }
        }
    }
    for g in group_add {
        let id = lookup_group(&groups, g)?;
        if !additional.contains(&id) {
            additional.push(id);
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids: additional,
        home,
    })
}

fn lookup_group(groups: &[GroupEntry], g: &str) -> Result<u32, UserError> {
    if let Some(e) = groups.iter().find(|e| e.name == g) {
        return Ok(e.gid);
    }
    g.parse::<u32>()
        .map_err(|_| UserError::NoGroup(g.to_string()))
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
        # a comment\n\
        broken line\n\
        www:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:www,root\nwww:x:33:\naudio:x:29:www\n";

    fn r(spec: &str, add: &[&str]) -> Result<ExecUser, UserError> {
        let add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
        resolve_from(PASSWD, GROUP, spec, &add)
    }

    #[test]
    fn forms() {
        assert_eq!(r("", &[]).unwrap().uid, 0);
        assert_eq!(r("", &[]).unwrap().home, "/root");
        let www = r("www", &[]).unwrap();
        assert_eq!((www.uid, www.gid, www.home.as_str()), (33, 33, "/var/www"));
        assert_eq!(www.additional_gids, vec![10, 29]);
        assert_eq!(r("33", &[]).unwrap().gid, 33);
        let numeric = r("1234:5678", &[]).unwrap();
        assert_eq!((numeric.uid, numeric.gid), (1234, 5678));
        assert_eq!(r("www:root", &[]).unwrap().gid, 0);
        assert!(r("www:root", &[]).unwrap().additional_gids.is_empty());
        assert_eq!(
            r("daemon", &["audio", "4242"]).unwrap().additional_gids,
            vec![29, 4242]
        );
    }

    #[test]
    fn errors_are_dockers() {
        assert_eq!(
            r("nobody", &[]).unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            r("www:staff", &[]).unwrap_err().to_string(),
            "unable to find group staff: no matching entries in group file"
        );
        assert!(r("a:b:c", &[]).is_err());
    }

    #[test]
    fn passwd_symlink_out_of_root_is_not_followed_to_the_host() {
        let root = tempfile_dir();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // The image claims /etc/passwd is the host's file; resolution keeps it inside.
        std::os::unix::fs::symlink("/etc/shadow-does-not-matter", root.join("etc/passwd")).unwrap();
        let err = resolve(&root, "root2", &[]).unwrap_err();
        assert_eq!(err, UserError::NoUser("root2".into()));
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("berth-user-{}", berth_stdx::id::random_hex(6)));
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}
