//! Synthetic sharded LLM checkpoints with real layouts and names, for measuring and testing
//! htdiag on large models without downloading one.
//!
//! ```text
//! cargo run --release --example gen_llm -- --model llama-7b --out /work/llama7b-synth
//! cargo run --release --example gen_llm -- --model tiny --shards 3 --out /tmp/tiny-llm
//! ```
//!
//! Writes `model-0000K-of-0000N.safetensors` shards and `model.safetensors.index.json`
//! (`weight_map` with sorted keys and `metadata.total_size`, as `transformers` writes them), in
//! bf16, with Hugging Face Llama tensor names and shapes (`model.layers.{i}.self_attn.q_proj
//! .weight`, `mlp.down_proj.weight`, `model.embed_tokens.weight`, `lm_head.weight`, norms).
//!
//! Models (`--model`): `llama-7b` (Llama-2-7B: hidden 4096, MLP 11008, 32 layers, vocab
//! 32000: 224 block matrices + embedding + lm_head, 13.5 GB), `llama2-70b` (hidden 8192, MLP
//! 28672, 80 layers, grouped-query k/v 1024 x 8192: 560 block matrices, 138 GB), `llama3-8b`
//! (vocab 128256: the 128256 x 4096 lm_head), and `tiny` (hidden 64, MLP 172, 4 layers, vocab
//! 320: a few hundred KB, for tests). `--layers L` overrides the number of blocks.
//!
//! Weights are heavy-tailed so power-law fits are meaningful: i.i.d. symmetric Pareto entries
//! `x = s * sign * ((1-u)^(-1/mu) - 1)` with tail index `mu` between 2.5 and 5 depending on the
//! layer (i.i.d. entries with tail index `mu < 4` give a power-law ESD, Martin & Mahoney,
//! JMLR 2021, section 5; `mu >= 4` looks Marchenko-Pastur-like), so alphas spread over layers.
//! Sampling is a table lookup (2^20 precomputed bf16 quantiles indexed by 20 random bits of
//! a xoshiro256++ stream), in parallel, so the generator runs at about disk speed. Output is
//! deterministic for a given `--seed` (each tensor has its own stream, split into fixed
//! chunks).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;

/// Shape of a Llama-family model.
#[derive(Debug, Clone, Copy)]
pub struct LlamaConfig {
    /// Model width.
    pub hidden: usize,
    /// MLP width.
    pub intermediate: usize,
    /// Number of transformer blocks.
    pub layers: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Rows of k_proj / v_proj (hidden unless grouped-query attention).
    pub kv_dim: usize,
}

impl LlamaConfig {
    /// A configuration by name (see the module docs).
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "llama-7b" => LlamaConfig {
                hidden: 4096,
                intermediate: 11008,
                layers: 32,
                vocab: 32000,
                kv_dim: 4096,
            },
            "llama2-70b" => LlamaConfig {
                hidden: 8192,
                intermediate: 28672,
                layers: 80,
                vocab: 32000,
                kv_dim: 1024,
            },
            "llama3-8b" => LlamaConfig {
                hidden: 4096,
                intermediate: 14336,
                layers: 32,
                vocab: 128256,
                kv_dim: 1024,
            },
            "tiny" => LlamaConfig {
                hidden: 64,
                intermediate: 172,
                layers: 4,
                vocab: 320,
                kv_dim: 64,
            },
            _ => return None,
        })
    }

    /// Every tensor `(name, shape)` in the order `transformers` builds the state dict.
    pub fn tensors(&self) -> Vec<(String, Vec<usize>)> {
        let (h, f, kv) = (self.hidden, self.intermediate, self.kv_dim);
        let mut t = vec![("model.embed_tokens.weight".to_string(), vec![self.vocab, h])];
        for i in 0..self.layers {
            let p = format!("model.layers.{i}");
            t.push((format!("{p}.self_attn.q_proj.weight"), vec![h, h]));
            t.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
            t.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
            t.push((format!("{p}.self_attn.o_proj.weight"), vec![h, h]));
            t.push((format!("{p}.mlp.gate_proj.weight"), vec![f, h]));
            t.push((format!("{p}.mlp.up_proj.weight"), vec![f, h]));
            t.push((format!("{p}.mlp.down_proj.weight"), vec![h, f]));
            t.push((format!("{p}.input_layernorm.weight"), vec![h]));
            t.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
        }
        t.push(("model.norm.weight".to_string(), vec![h]));
        t.push(("lm_head.weight".to_string(), vec![self.vocab, h]));
        t
    }
}

/// splitmix64: seeds the per-chunk generators.
fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman & Vigna): fast, good-quality 64-bit stream.
struct Xoshiro([u64; 4]);

impl Xoshiro {
    fn new(seed: u64) -> Self {
        let mut s = seed;
        Xoshiro([
            splitmix64(&mut s),
            splitmix64(&mut s),
            splitmix64(&mut s),
            splitmix64(&mut s),
        ])
    }
    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let r = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }
}

/// Bits of randomness per sample (table size 2^BITS).
const BITS: u32 = 20;
/// Elements generated from one seeded stream (fixed, so output does not depend on threads).
const CHUNK: usize = 1 << 16;

/// 2^BITS bf16 quantiles of the symmetric Pareto law with tail index `mu` and scale `s`
/// (half negative, half positive; u at bin midpoints so no infinite value).
fn pareto_table(mu: f64, s: f64) -> Vec<u16> {
    let half = 1usize << (BITS - 1);
    let mut table = vec![0u16; 1 << BITS];
    for i in 0..half {
        let u = (i as f64 + 0.5) / half as f64;
        let x = half::bf16::from_f64(s * ((1.0 - u).powf(-1.0 / mu) - 1.0)).to_bits();
        table[half + i] = x;
        table[i] = x ^ 0x8000; // the same magnitude, negative
    }
    table
}

/// Tail index of a tensor: varies with depth and kind so fitted alphas spread (quantised to
/// 0.05 so [`Tables`] can reuse the quantile tables).
fn tail_index(name: &str, seed: u64) -> f64 {
    let mut h = seed ^ 0xA076_1D64_78BD_642F;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01B3);
    }
    let u = (splitmix64(&mut h) >> 11) as f64 / (1u64 << 53) as f64;
    2.5 + 0.05 * (50.0 * u).floor()
}

/// Quantile tables by tail index (building one takes 2^19 `powf`).
#[derive(Default)]
struct Tables(std::collections::HashMap<u64, Vec<u16>>);

impl Tables {
    fn get(&mut self, mu: f64, s: f64) -> &[u16] {
        self.0
            .entry(mu.to_bits() ^ s.to_bits().rotate_left(32))
            .or_insert_with(|| pareto_table(mu, s))
    }
}

/// Stream seed of a tensor.
fn tensor_seed(name: &str, seed: u64) -> u64 {
    let mut h = seed;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01B3);
    }
    splitmix64(&mut h)
}

/// Fills `out` (bf16 bits) with the elements `[start, start + out.len())` of a tensor's
/// stream. `start` must be a multiple of CHUNK.
fn fill(out: &mut [u16], start: usize, table: &[u16], tseed: u64) {
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            let mut s = tseed ^ ((start / CHUNK + c) as u64).wrapping_mul(0xD605_BBB5_8C8A_BBA9);
            let mut rng = Xoshiro::new(splitmix64(&mut s));
            let mask = (1u64 << BITS) - 1;
            let mut it = chunk.chunks_mut(3);
            for three in &mut it {
                let mut r = rng.next();
                for x in three {
                    *x = table[(r & mask) as usize];
                    r >>= BITS;
                }
            }
        });
}

/// Writes one tensor's bf16 bytes; vectors (norms) are 1 + small noise, like trained norms.
fn write_tensor(
    w: &mut impl Write,
    name: &str,
    shape: &[usize],
    seed: u64,
    buf: &mut Vec<u16>,
    tables: &mut Tables,
) -> std::io::Result<()> {
    let numel: usize = shape.iter().product();
    let tseed = tensor_seed(name, seed);
    if shape.len() == 1 {
        let table = tables.get(4.0, 0.02);
        buf.resize(numel, 0);
        fill(buf, 0, table, tseed);
        for x in buf.iter_mut() {
            *x = half::bf16::from_f32(1.0 + half::bf16::from_bits(*x).to_f32()).to_bits();
        }
        return w.write_all(bytemuck::cast_slice(&buf[..]));
    }
    // Scale so the bulk entries are ~0.02 like a trained Llama.
    let table = tables.get(tail_index(name, seed), 0.02);
    let step = CHUNK * 256;
    let mut start = 0;
    while start < numel {
        let len = step.min(numel - start);
        buf.resize(len, 0);
        fill(&mut buf[..len], start, table, tseed);
        w.write_all(bytemuck::cast_slice(&buf[..len]))?;
        start += len;
    }
    Ok(())
}

/// Splits the tensors into `shards` consecutive groups of about equal bytes.
fn assign_shards(tensors: &[(String, Vec<usize>)], shards: usize) -> Vec<usize> {
    let bytes: Vec<usize> = tensors
        .iter()
        .map(|(_, s)| 2 * s.iter().product::<usize>())
        .collect();
    let total: usize = bytes.iter().sum();
    let mut acc = 0usize;
    bytes
        .iter()
        .map(|b| {
            let mid = acc + b / 2;
            acc += b;
            (mid * shards / total.max(1)).min(shards - 1)
        })
        .collect()
}

/// The safetensors header of one shard: JSON padded with spaces to a multiple of 8 bytes.
fn header(tensors: &[&(String, Vec<usize>)]) -> Vec<u8> {
    let mut map = serde_json::Map::new();
    map.insert(
        "__metadata__".into(),
        serde_json::json!({"format": "pt", "generator": "htdiag gen_llm"}),
    );
    let mut off = 0usize;
    for (name, shape) in tensors {
        let len = 2 * shape.iter().product::<usize>();
        map.insert(
            name.clone(),
            serde_json::json!({"dtype": "BF16", "shape": shape, "data_offsets": [off, off + len]}),
        );
        off += len;
    }
    let mut h = serde_json::to_vec(&serde_json::Value::Object(map)).expect("plain JSON");
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    h
}

/// Writes the whole checkpoint into `out` (created if needed); returns the bytes written.
pub fn generate(cfg: &LlamaConfig, shards: usize, seed: u64, out: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(out)?;
    let tensors = cfg.tensors();
    let shards = shards.clamp(1, tensors.len());
    let owner = assign_shards(&tensors, shards);
    let file_name = |k: usize| format!("model-{:05}-of-{:05}.safetensors", k + 1, shards);
    let mut total = 0u64;
    let mut buf = Vec::new();
    let mut tables = Tables::default();
    for k in 0..shards {
        let mine: Vec<&(String, Vec<usize>)> = tensors
            .iter()
            .zip(&owner)
            .filter(|(_, o)| **o == k)
            .map(|(t, _)| t)
            .collect();
        let h = header(&mine);
        let final_path = out.join(file_name(k));
        let tmp = out.join(format!(".{}.tmp", file_name(k)));
        let mut w = BufWriter::with_capacity(1 << 22, File::create(&tmp)?);
        w.write_all(&(h.len() as u64).to_le_bytes())?;
        w.write_all(&h)?;
        for (name, shape) in &mine {
            write_tensor(&mut w, name, shape, seed, &mut buf, &mut tables)?;
            total += 2 * shape.iter().product::<usize>() as u64;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, &final_path)?;
    }
    // The index, keys sorted as transformers writes them (sort_keys=True).
    let mut weight_map: Vec<(&String, String)> = tensors
        .iter()
        .zip(&owner)
        .map(|((n, _), &o)| (n, file_name(o)))
        .collect();
    weight_map.sort();
    let wm: serde_json::Map<String, serde_json::Value> = weight_map
        .into_iter()
        .map(|(n, f)| (n.clone(), serde_json::Value::String(f)))
        .collect();
    let index = serde_json::json!({"metadata": {"total_size": total}, "weight_map": wm});
    let text = serde_json::to_string_pretty(&index).expect("plain JSON");
    let tmp = out.join(".model.safetensors.index.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, out.join("model.safetensors.index.json"))?;
    Ok(total)
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut model = "llama-7b".to_string();
    let mut out: Option<PathBuf> = None;
    let mut shards = 6usize;
    let mut seed = 0u64;
    let mut layers: Option<usize> = None;
    let mut i = 0;
    let usage = "usage: gen_llm [--model llama-7b|llama2-70b|llama3-8b|tiny] [--layers L] \
                 [--shards N] [--seed S] --out DIR";
    while i < args.len() {
        let val = |i: usize| {
            args.get(i + 1).cloned().unwrap_or_else(|| {
                eprintln!("{usage}");
                std::process::exit(2)
            })
        };
        let num = |s: String| {
            s.parse::<u64>().unwrap_or_else(|_| {
                eprintln!("not a number: {s}\n{usage}");
                std::process::exit(2)
            })
        };
        match args[i].as_str() {
            "--model" => model = val(i),
            "--out" => out = Some(PathBuf::from(val(i))),
            "--shards" => shards = num(val(i)) as usize,
            "--seed" => seed = num(val(i)),
            "--layers" => layers = Some(num(val(i)) as usize),
            _ => {
                eprintln!("{usage}");
                std::process::exit(2)
            }
        }
        i += 2;
    }
    let Some(out) = out else {
        eprintln!("{usage}");
        std::process::exit(2)
    };
    let Some(mut cfg) = LlamaConfig::named(&model) else {
        eprintln!("unknown model {model}\n{usage}");
        std::process::exit(2)
    };
    if let Some(l) = layers {
        cfg.layers = l;
    }
    let t = Instant::now();
    match generate(&cfg, shards, seed, &out) {
        Ok(bytes) => {
            let s = t.elapsed().as_secs_f64();
            println!(
                "wrote {} tensors, {:.2} GB in {shards} shards to {} in {s:.1} s ({:.0} MB/s)",
                cfg.tensors().len(),
                bytes as f64 / 1e9,
                out.display(),
                bytes as f64 / 1e6 / s
            );
        }
        Err(e) => {
            eprintln!("gen_llm: {}: {e}", out.display());
            std::process::exit(1)
        }
    }
}
