//! FK-safe order: every message after its parent.

use std::collections::HashMap;

/// Orders `items` (message id, parent id within the set) so that parents come first, keeping
/// file order otherwise. Returns the index order, or the id where a cycle was found.
pub fn parents_first(items: &[(&str, Option<&str>)]) -> Result<Vec<usize>, String> {
    let index: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i))
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = placed.
    let mut mark = vec![0u8; items.len()];
    let mut out = Vec::with_capacity(items.len());
    for start in 0..items.len() {
        let mut path = Vec::new();
        let mut cur = Some(start);
        // Walk up the parent chain until a placed message (or the root), then place downwards.
        while let Some(i) = cur {
            match mark[i] {
                2 => break,
                1 => return Err(items[i].0.to_owned()),
                _ => {}
            }
            mark[i] = 1;
            path.push(i);
            cur = items[i]
                .1
                .filter(|p| *p != items[i].0)
                .and_then(|p| index.get(p).copied());
        }
        for &i in path.iter().rev() {
            mark[i] = 2;
            out.push(i);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_follow_their_parents_and_self_parents_are_roots() {
        let items = [
            ("reply", Some("root")),
            ("self", Some("self")),
            ("root", Some("root")),
            ("orphan", None),
        ];
        let order = parents_first(&items).unwrap();
        let ids: Vec<_> = order.iter().map(|&i| items[i].0).collect();
        assert_eq!(ids, ["root", "reply", "self", "orphan"]);
    }

    #[test]
    fn cycles_are_reported() {
        assert!(parents_first(&[("a", Some("b")), ("b", Some("a"))]).is_err());
    }
}
