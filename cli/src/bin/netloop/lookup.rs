//! `netloop resolve` and `netloop services`: what the name services say, as Python's
//! `gethostbyname_ex`, `getaddrinfo`, `gethostbyaddr` and `getservbyname` would.

use std::net::IpAddr;

use netloop::names::{self, AiFlags, NiFlags};

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

/// `netloop resolve NAME` or `netloop resolve --reverse ADDR`.
pub fn resolve(name: &str, reverse: bool) -> Result<(), String> {
    if reverse {
        let ip: IpAddr = name
            .parse()
            .map_err(|_| format!("'{name}' is not an IP address (--reverse takes one)"))?;
        let entry =
            names::gethostbyaddr(name).map_err(|e| format!("gethostbyaddr({name}): {e}"))?;
        println!("gethostbyaddr {name}");
        println!("  name:      {}", entry.name);
        println!("  aliases:   {}", list(&entry.aliases));
        let addrs: Vec<String> = entry.addrs.iter().map(IpAddr::to_string).collect();
        println!("  addresses: {}", list(&addrs));
        if let Ok((host, _)) = names::getnameinfo(&(ip, 0).into(), NiFlags::NAMEREQD) {
            println!("getnameinfo {name}\n  host:      {host}");
        }
        return Ok(());
    }
    let mut found = false;
    match names::gethostbyname_ex(name) {
        Ok(entry) => {
            found = true;
            println!("gethostbyname_ex {name}");
            println!("  canonical: {}", entry.name);
            println!("  aliases:   {}", list(&entry.aliases));
            let addrs: Vec<String> = entry.addrs.iter().map(IpAddr::to_string).collect();
            println!("  addresses: {}", list(&addrs));
        }
        Err(e) => println!("gethostbyname_ex {name}: {e}"),
    }
    match names::getaddrinfo(Some(name), None, None, None, 0, AiFlags::CANONNAME) {
        Ok(results) => {
            found = true;
            println!("getaddrinfo {name}");
            if let Some(canon) = results
                .first()
                .map(|r| &r.canonname)
                .filter(|c| !c.is_empty())
            {
                println!("  canonical: {canon}");
            }
            for r in results {
                let ty = r.socktype.map_or("?".to_string(), |t| t.to_string());
                println!(
                    "  {:<9} {:<14} proto {:<3} {}",
                    r.family.to_string(),
                    ty,
                    r.protocol,
                    r.addr.ip()
                );
            }
        }
        Err(e) => println!("getaddrinfo {name}: {e}"),
    }
    if found {
        Ok(())
    } else {
        Err(format!("{name}: not found"))
    }
}

/// `netloop services PORT|NAME`: the service's name or port, for TCP and UDP.
pub fn services(what: &str) -> Result<(), String> {
    let mut found = false;
    for proto in ["tcp", "udp"] {
        let line = match what.parse::<u16>() {
            Ok(port) => names::getservbyport(port, Some(proto))
                .map(|name| format!("{name:<16} {port}/{proto}")),
            Err(_) => names::getservbyname(what, Some(proto))
                .map(|port| format!("{what:<16} {port}/{proto}")),
        };
        match line {
            Ok(l) => {
                found = true;
                println!("{l}");
            }
            Err(e) => println!("{what}/{proto}: {e}"),
        }
    }
    if found {
        Ok(())
    } else {
        Err(format!("{what}: no such service"))
    }
}
