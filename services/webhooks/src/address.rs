//! Where webhooks may go: public addresses only, unless the operator
//! allow-lists networks (`webhooks.allow_networks`). Checked when an
//! endpoint is created or changed, and again on every attempt, at
//! connection time (the HTTP client resolves names through
//! [`GuardedResolver`]), so a name that later resolves to a private address
//! (DNS rebinding) is refused then too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use url::Url;

/// Why a URL or an address is refused; the text is safe to show (it never
/// repeats the URL, which may carry a token).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the webhook url is not a valid absolute url")]
    Malformed,
    #[error("the webhook url must be http or https")]
    Scheme,
    #[error("the webhook url must not carry a user name or password")]
    Credentials,
    #[error("the webhook url's host does not resolve")]
    Unresolved,
    #[error(
        "the webhook url's host resolves to a loopback, private, link-local or otherwise non-public address"
    )]
    NonPublic,
}

/// The operator's allow-list on top of "public addresses only".
#[derive(Clone, Debug, Default)]
pub struct AddressPolicy {
    allowed: Vec<IpNet>,
}

impl AddressPolicy {
    /// `networks` are CIDRs (`10.0.0.0/8`) or single addresses.
    pub fn new(networks: &[String]) -> Result<Self, String> {
        let mut allowed = Vec::with_capacity(networks.len());
        for network in networks {
            let parsed = network
                .parse::<IpNet>()
                .or_else(|_| network.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("webhooks.allow_networks: {network:?} is not a CIDR"))?;
            allowed.push(parsed);
        }
        Ok(Self { allowed })
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        is_public(ip) || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Checks a URL's form, then every address its host resolves to.
    pub async fn check_url(&self, url: &str) -> Result<Url, Refused> {
        let parsed = parse(url)?;
        let addresses = resolve(&parsed).await?;
        if addresses.is_empty() {
            return Err(Refused::Unresolved);
        }
        if addresses.iter().any(|a| !self.allows(a.ip())) {
            return Err(Refused::NonPublic);
        }
        Ok(parsed)
    }
}

/// The URL's form alone: absolute, http(s), a host, no credentials.
pub fn parse(url: &str) -> Result<Url, Refused> {
    let parsed = Url::parse(url.trim()).map_err(|_| Refused::Malformed)?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Refused::Scheme);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused::Credentials);
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Refused::Malformed);
    }
    Ok(parsed)
}

/// An IP literal's address, when the host is one (the HTTP client does not
/// resolve those, so the sender checks them itself).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, Refused> {
    if let Some(ip) = literal_ip(url) {
        return Ok(vec![SocketAddr::new(ip, 0)]);
    }
    let host = url.host_str().ok_or(Refused::Malformed)?;
    let port = url.port_or_known_default().unwrap_or(443);
    tokio::net::lookup_host((host, port))
        .await
        .map(Iterator::collect)
        .map_err(|_| Refused::Unresolved)
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is judged as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Carrier-grade NAT (RFC 6598).
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments (RFC 6890).
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking (RFC 2544).
        || (a == 198 && (18..20).contains(&b))
        // Reserved (240/4).
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local (fc00::/7).
        || (first & 0xfe00) == 0xfc00
        // Link-local (fe80::/10) and the deprecated site-local (fec0::/10).
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // NAT64 (64:ff9b::/96) reaches IPv4 addresses it hides.
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)
        // IPv4-compatible (deprecated) and other ::/96 forms.
        || ip.segments()[..6].iter().all(|s| *s == 0))
}

/// The HTTP client's resolver: resolves, then refuses the whole name when
/// any of its addresses is not allowed.
#[derive(Clone)]
pub struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl GuardedResolver {
    pub fn new(policy: Arc<AddressPolicy>) -> Self {
        Self { policy }
    }
}

/// What the resolver answers: every address of the name, all allowed.
pub type Addresses = std::vec::IntoIter<SocketAddr>;

type Resolving = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<Addresses, Box<dyn std::error::Error + Send + Sync>>,
            > + Send,
    >,
>;

impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = Addresses;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Resolving;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if addresses.is_empty() {
                return Err(Box::new(Refused::Unresolved) as Self::Error);
            }
            if addresses.iter().any(|a| !policy.allows(a.ip())) {
                return Err(Box::new(Refused::NonPublic) as Self::Error);
            }
            Ok(addresses.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn only_public_addresses_pass_by_default() {
        let policy = AddressPolicy::default();
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!policy.allows(ip(refused)), "{refused} must be refused");
        }
        for allowed in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(policy.allows(ip(allowed)), "{allowed} must pass");
        }
    }

    #[test]
    fn the_allow_list_opens_its_networks_only() {
        let policy =
            AddressPolicy::new(&["127.0.0.1".into(), "10.0.0.0/8".into()]).expect("policy");
        assert!(policy.allows(ip("127.0.0.1")));
        assert!(policy.allows(ip("::ffff:127.0.0.1")));
        assert!(policy.allows(ip("10.9.9.9")));
        assert!(!policy.allows(ip("127.0.0.2")));
        assert!(!policy.allows(ip("192.168.0.1")));
        assert!(AddressPolicy::new(&["not a network".into()]).is_err());
    }

    #[test]
    fn urls_must_be_http_without_credentials() {
        assert_eq!(parse("ftp://example.com/"), Err(Refused::Scheme));
        assert_eq!(parse("https://u:p@example.com/"), Err(Refused::Credentials));
        assert_eq!(parse("example.com/hook"), Err(Refused::Malformed));
        assert!(parse("https://example.com/hook?x=1").is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let policy = AddressPolicy::default();
        assert_eq!(
            policy.check_url("http://localhost:9/hook").await,
            Err(Refused::NonPublic)
        );
        assert_eq!(
            policy.check_url("http://[::1]/hook").await,
            Err(Refused::NonPublic)
        );
        assert_eq!(
            policy.check_url("http://192.168.0.10/hook").await,
            Err(Refused::NonPublic)
        );
    }
}
