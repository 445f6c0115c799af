//! A JSON object read as a list of `(key, value)` pairs in the order the file writes them.
//!
//! `serde_json` without its `preserve_order` feature sorts object keys, which would lose the
//! order of a safetensors header or of a shard index's `weight_map`. Duplicate keys are kept
//! (and reported by the callers), where a map would silently keep the last one.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// The entries of a JSON object, in file order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderedMap<V>(pub Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = OrderedMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    entries.push((k, v));
                }
                Ok(OrderedMap(entries))
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_file_order_and_duplicates() {
        let m: OrderedMap<u32> = serde_json::from_str(r#"{"b": 1, "a": 2, "b": 3}"#).unwrap();
        let keys: Vec<_> = m.0.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(keys, [("b", 1), ("a", 2), ("b", 3)]);
    }

    #[test]
    fn rejects_non_objects() {
        assert!(serde_json::from_str::<OrderedMap<u32>>("[1, 2]").is_err());
    }
}
