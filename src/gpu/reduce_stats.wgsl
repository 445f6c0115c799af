// Reduces a batch's per-row losses and hits into the statistics buffer, summing rows in order
// (a single invocation: batches are small, and a fixed order keeps the CPU path's rounding).
// mode 0 (training step): stats[2 slot] = mean loss, stats[2 slot + 1] = hits.
// mode 1 (evaluation chunk): stats[2 slot] += loss sum, stats[2 slot + 1] += hits.

struct Params {
    rows: u32,
    slot: u32,
    mode: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> row_loss: array<f32>;
@group(0) @binding(2) var<storage, read> row_correct: array<u32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(1, 1, 1)
fn main() {
    var loss = 0.0;
    var hits = 0u;
    for (var r = 0u; r < p.rows; r = r + 1u) {
        loss = loss + row_loss[r];
        hits = hits + row_correct[r];
    }
    if (p.mode == 0u) {
        stats[2u * p.slot] = loss / f32(p.rows);
        stats[2u * p.slot + 1u] = f32(hits);
    } else {
        stats[2u * p.slot] = stats[2u * p.slot] + loss;
        stats[2u * p.slot + 1u] = stats[2u * p.slot + 1u] + f32(hits);
    }
}
