//! The process's groups, for error messages about group-based permissions.

/// The process's effective group followed by its supplementary groups (for error messages
/// about group-based permissions); empty if they cannot be read.
pub fn process_groups() -> Vec<u32> {
    let egid = nix::unistd::getegid().as_raw();
    let mut groups = vec![egid];
    if let Ok(more) = nix::unistd::getgroups() {
        groups.extend(more.iter().map(|g| g.as_raw()).filter(|g| *g != egid));
    }
    groups
}
