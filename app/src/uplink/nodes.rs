//! The registry's nodes: the trust bundle lists one URL or several (nodes of one registry over
//! one database), and the uplink moves to the next when the one it uses stops answering.
//!
//! Which node to try is decided here without any I/O: a pass starts with the node that last
//! answered, keeps it while it works, and goes round the list when it fails; once every node
//! has failed in a row with nothing sent in between, the pass gives up and the caller backs
//! off. The same record may so reach two nodes; the registry stores it once and answers both
//! with the same receipt, which the uplink already takes as it takes any other.

use std::borrow::Cow;

use super::client::CallError;

/// The registry's nodes in the bundle's order, and the one that answered last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodes {
    urls: Vec<String>,
    last_worked: usize,
}

impl Nodes {
    /// The nodes at `urls`, first choice first, starting with `last_worked` if it is one of them
    /// (the node a previous run found working), else with the first. An empty list is a list
    /// of one empty URL, which fails at its first call.
    pub fn new(urls: Vec<String>, last_worked: Option<&str>) -> Self {
        let urls = if urls.is_empty() {
            vec![String::new()]
        } else {
            urls
        };
        let last_worked = last_worked
            .and_then(|url| urls.iter().position(|u| u == url))
            .unwrap_or(0);
        Self { urls, last_worked }
    }

    /// How many nodes there are (at least one).
    pub fn len(&self) -> usize {
        self.urls.len()
    }

    /// Always false: there is at least one node.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The URL of node `index` (taken modulo the number of nodes).
    pub fn url(&self, index: usize) -> &str {
        &self.urls[index % self.urls.len()]
    }

    /// The node that answered last, or the first if none has yet.
    pub fn last_worked(&self) -> usize {
        self.last_worked
    }

    /// Notes that node `index` answered: the next pass starts with it.
    pub fn worked(&mut self, index: usize) {
        self.last_worked = index % self.urls.len();
    }

    /// Every node once, in the order a pass tries them: the one that answered last, then the
    /// ones after it, round to the one before it.
    pub fn rotation(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.urls.len()).map(|step| (self.last_worked + step) % self.urls.len())
    }
}

/// Where a pass is in the list of nodes: the node in use, and how many have failed in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    current: usize,
    nodes: usize,
    failed_in_a_row: usize,
}

impl Failover {
    /// A pass over `nodes`: it starts with the node that answered last.
    pub fn start(nodes: &Nodes) -> Self {
        Self {
            current: nodes.last_worked(),
            nodes: nodes.len(),
            failed_in_a_row: 0,
        }
    }

    /// The node to use now.
    pub fn current(&self) -> usize {
        self.current
    }

    /// The node in use failed. `progressed`: it took records (or gave receipts) before it
    /// failed, so the nodes that failed before it may be back and count again. The next node
    /// to try, or `None` when every node has now failed in a row (back off, then start again).
    pub fn failed(&mut self, progressed: bool) -> Option<usize> {
        if progressed {
            self.failed_in_a_row = 0;
        }
        self.failed_in_a_row += 1;
        if self.failed_in_a_row >= self.nodes {
            return None;
        }
        self.current = (self.current + 1) % self.nodes;
        Some(self.current)
    }
}

/// The nodes a device provisioned with `bundle` (its nodes, in order) keeps using. `given`
/// (`sajili provision --registry`) puts one of them first, the others following in the
/// bundle's order; a URL the bundle does not list (a relay in front of the registry, say) is
/// used alone, so that the device never goes round it.
pub fn provisioned_nodes(bundle: &[String], given: Option<&str>) -> Vec<String> {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    match given {
        None => bundle.to_vec(),
        Some(given) if bundle.iter().any(|url| same(url, given)) => std::iter::once(given)
            .chain(
                bundle
                    .iter()
                    .map(String::as_str)
                    .filter(|url| !same(url, given)),
            )
            .map(str::to_string)
            .collect(),
        Some(given) => vec![given.to_string()],
    }
}

/// Whether a failed call says the node is down or overloaded (connection refused or cut, TLS
/// or I/O error, timeout, 5xx, 429), so another node may answer: not a refusal of the device
/// or its record, which every node would give alike.
pub fn node_failed(error: &CallError) -> bool {
    error.is_transient()
}

/// `url` as it may be logged: without a user or password before the host, should a URL ever
/// carry one.
pub fn shown(url: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Cow::Borrowed(url);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => Cow::Owned(format!("{scheme}://{}", &rest[at + 1..])),
        None => Cow::Borrowed(url),
    }
}

/// Makes `call` on the nodes at `urls` in turn, starting with `first`, until one answers: the
/// index of that node and its answer. A node that fails as [`node_failed`] says is logged and
/// the next one tried; any other error, or the last node's failure, is returned. For calls
/// outside a pass: provisioning and the signed re-issue.
pub fn on_any_node<T>(
    urls: &[String],
    first: usize,
    mut call: impl FnMut(&str) -> Result<T, CallError>,
) -> Result<(usize, T), CallError> {
    let nodes = Nodes::new(urls.to_vec(), urls.get(first).map(String::as_str));
    let mut failover = Failover::start(&nodes);
    loop {
        let index = failover.current();
        match call(nodes.url(index)) {
            Ok(answer) => return Ok((index, answer)),
            Err(error) if node_failed(&error) => match failover.failed(false) {
                Some(next) => log::info!(
                    "registry node {} failed ({error}); going on with {}",
                    shown(nodes.url(index)),
                    shown(nodes.url(next))
                ),
                None => return Err(error),
            },
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uplink::protocol::ApiError;

    fn nodes(count: usize, last: Option<&str>) -> Nodes {
        Nodes::new(
            (0..count)
                .map(|n| format!("https://node{n}:8443"))
                .collect(),
            last,
        )
    }

    fn down() -> CallError {
        CallError::Network("connection refused".into())
    }

    #[test]
    fn a_pass_starts_with_the_node_that_answered_last_and_goes_round() {
        let mut list = nodes(3, None);
        assert_eq!(list.rotation().collect::<Vec<_>>(), [0, 1, 2]);
        list.worked(2);
        assert_eq!(list.rotation().collect::<Vec<_>>(), [2, 0, 1]);
        let remembered = nodes(3, Some("https://node1:8443"));
        assert_eq!(remembered.rotation().collect::<Vec<_>>(), [1, 2, 0]);
        let unknown = nodes(3, Some("https://elsewhere:8443"));
        assert_eq!(
            unknown.last_worked(),
            0,
            "a node no longer listed is forgotten"
        );
    }

    #[test]
    fn every_node_failing_in_a_row_ends_the_pass_once_round() {
        let mut list = nodes(3, None);
        list.worked(1);
        let mut failover = Failover::start(&list);
        assert_eq!(failover.current(), 1);
        assert_eq!(failover.failed(false), Some(2));
        assert_eq!(failover.failed(false), Some(0));
        assert_eq!(failover.failed(false), None, "all three failed");
    }

    #[test]
    fn a_node_that_took_records_before_failing_starts_the_count_again() {
        let list = nodes(2, None);
        let mut failover = Failover::start(&list);
        assert_eq!(failover.failed(false), Some(1));
        // Node 1 sent records, then failed: node 0 may be back.
        assert_eq!(failover.failed(true), Some(0));
        assert_eq!(failover.failed(false), None);
    }

    #[test]
    fn a_single_node_that_fails_ends_the_pass_at_once() {
        let list = nodes(1, None);
        let mut failover = Failover::start(&list);
        assert_eq!(failover.failed(false), None);
        let mut empty = Nodes::new(Vec::new(), None);
        assert_eq!(empty.len(), 1);
        empty.worked(5);
        assert_eq!(empty.url(empty.last_worked()), "");
    }

    #[test]
    fn only_a_node_down_or_overloaded_moves_the_uplink_on() {
        assert!(node_failed(&down()));
        assert!(node_failed(&CallError::Unavailable {
            status: 503,
            message: "busy".into()
        }));
        let refused = CallError::Refused {
            status: 409,
            error: Box::new(ApiError {
                kind: String::new(),
                title: String::new(),
                status: 409,
                detail: "other bytes".into(),
                code: "seq_conflict".into(),
                expected_seq: None,
                received: None,
            }),
        };
        assert!(!node_failed(&refused), "every node would refuse it alike");
        assert!(!node_failed(&CallError::Certificate("expired".into())));
        assert!(!node_failed(&CallError::BadAnswer("not JSON".into())));
    }

    #[test]
    fn calls_move_down_the_list_and_stop_at_the_first_answer() {
        let urls: Vec<String> = (0..3).map(|n| format!("https://node{n}")).collect();
        let mut tried = Vec::new();
        let answer = on_any_node(&urls, 1, |url| {
            tried.push(url.to_string());
            if url.ends_with('2') {
                Ok("issued")
            } else {
                Err(down())
            }
        });
        assert_eq!(answer, Ok((2, "issued")));
        assert_eq!(tried, ["https://node1", "https://node2"]);

        let mut tried = Vec::new();
        let answer: Result<(usize, ()), _> = on_any_node(&urls, 0, |url| {
            tried.push(url.to_string());
            Err(down())
        });
        assert_eq!(answer, Err(down()));
        assert_eq!(tried.len(), 3, "each node once, then the last error");
    }

    #[test]
    fn a_refusal_is_not_carried_to_the_next_node() {
        let urls: Vec<String> = (0..2).map(|n| format!("https://node{n}")).collect();
        let mut calls = 0;
        let answer: Result<(usize, ()), _> = on_any_node(&urls, 0, |_| {
            calls += 1;
            Err(CallError::Certificate("revoked".into()))
        });
        assert!(answer.is_err());
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_node_given_at_provisioning_goes_first_and_a_relay_goes_alone() {
        let bundle: Vec<String> = ["https://a:1", "https://b:2", "https://c:3"]
            .map(String::from)
            .to_vec();
        assert_eq!(provisioned_nodes(&bundle, None), bundle);
        assert_eq!(
            provisioned_nodes(&bundle, Some("https://b:2/")),
            ["https://b:2/", "https://a:1", "https://c:3"]
        );
        assert_eq!(
            provisioned_nodes(&bundle, Some("https://relay:9")),
            ["https://relay:9"]
        );
    }

    #[test]
    fn logged_urls_carry_no_credentials() {
        assert_eq!(shown("https://a:8443/x"), "https://a:8443/x");
        assert_eq!(
            shown("https://user:secret@registry:8443/v1"),
            "https://registry:8443/v1"
        );
        assert_eq!(shown("not a url"), "not a url");
    }
}
