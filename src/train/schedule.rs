//! PyTorch's learning-rate schedules (`torch.optim.lr_scheduler`), as functions of the
//! schedule's clock: `e` epochs and, in epoch `e`, batch `i` of `B`; η₀ is `learning_rate`.
//!
//! ```text
//! warm-up of k epochs:  η_e = η_S · (e + 1) / (k + 1)   for e < k; then the schedule,
//!                       whose clock starts at e = k (LinearLR(start_factor=1/(k+1),
//!                       total_iters=k) then the schedule, PyTorch's SequentialLR)
//! cosine:     η_e = η₀ (1 + cos(π e / T)) / 2             (CosineAnnealingLR, η_min = 0)
//! step:       η_e = η₀ γ^⌊e / step_size⌋                  (StepLR)
//! one_cycle:  step s = e·B + i of S = T·B, by batch        (OneCycleLR, cycle_momentum=False)
//!             η_s = cos_anneal(η₀/25, η₀, s / (0.3 S − 1))               for s ≤ 0.3 S − 1
//!                   cos_anneal(η₀, η₀/25e4, (s − (0.3 S − 1)) / (0.7 S))  after, up to S − 1
//!             cos_anneal(a, b, p) = b + (a − b)/2 · (cos(π p) + 1)
//! ```
//!
//! `η_S` is the schedule's first step size: η₀ for cosine and step, η₀/25 for one_cycle, the
//! current one for scikit-learn's schedules (`Constant`, `InvScaling`, `Adaptive`, which
//! follow the samples seen and the no-improvement rule in `trainer.rs` and are not shifted
//! by the warm-up). `T` is `t_max`, by default the epochs from the end of the warm-up to the
//! end of the fit. Past `T`, cosine continues PyTorch's formula (it rises again over the
//! next `T` epochs) and one_cycle keeps its last step size (PyTorch refuses to step on).
//! Each expression is written as PyTorch writes it, so that the numbers agree to the last
//! bits PyTorch's own recurrences keep.

use super::stopping::Schedule;
use std::f64::consts::PI;

/// One_cycle's `div_factor`, `final_div_factor` and `pct_start` (PyTorch's defaults).
pub const DIV_FACTOR: f64 = 25.0;
pub const FINAL_DIV_FACTOR: f64 = 1e4;
pub const PCT_START: f64 = 0.3;

/// Where a fit stands for its schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Epochs of the schedule run before this one (warm-up included; a resumed fit's too).
    pub epoch: u64,
    /// The batch of this epoch (0-based) and the batches per epoch.
    pub batch: u64,
    pub batches: u64,
    /// `T` when `t_max` is not given: the epochs after the warm-up up to the end of the fit.
    pub horizon: u64,
}

/// The step size of the batch at `clock`, for `schedule` after `warmup` epochs, starting
/// from `eta0`; `current` is the step size scikit-learn's schedules keep (`Progress`) or the
/// callable's for this epoch.
pub fn rate(schedule: Schedule, warmup: u64, eta0: f64, current: f64, clock: Clock) -> f64 {
    if clock.epoch < warmup {
        let first = match schedule {
            Schedule::Cosine { .. } | Schedule::Step { .. } => eta0,
            Schedule::OneCycle { .. } => eta0 / DIV_FACTOR,
            _ => current,
        };
        return warm_up(first, clock.epoch, warmup);
    }
    let e = clock.epoch - warmup;
    match schedule {
        Schedule::Cosine { t_max } => cosine(eta0, e, t_max.map_or(clock.horizon, |t| t as u64)),
        Schedule::Step { step_size, gamma } => step(eta0, e, step_size as u64, gamma),
        Schedule::OneCycle { t_max } => {
            let epochs = t_max.map_or(clock.horizon, |t| t as u64);
            let total = epochs.saturating_mul(clock.batches);
            let s = e.saturating_mul(clock.batches).saturating_add(clock.batch);
            one_cycle(eta0, s, total)
        }
        Schedule::Constant
        | Schedule::InvScaling { .. }
        | Schedule::Adaptive
        | Schedule::Callable => current,
    }
}

/// Epoch `e < k` of a warm-up of `k` epochs towards `first`.
pub fn warm_up(first: f64, e: u64, k: u64) -> f64 {
    first * (e + 1) as f64 / (k + 1) as f64
}

/// `CosineAnnealingLR(T_max=t_max, eta_min=0)` at epoch `e`.
pub fn cosine(eta0: f64, e: u64, t_max: u64) -> f64 {
    eta0 * (1.0 + (PI * e as f64 / t_max as f64).cos()) / 2.0
}

/// `StepLR(step_size, gamma)` at epoch `e`.
pub fn step(eta0: f64, e: u64, step_size: u64, gamma: f64) -> f64 {
    eta0 * gamma.powf((e / step_size) as f64)
}

/// `OneCycleLR(max_lr=eta0, total_steps=total)` (cosine annealing, two phases) at step `s`;
/// past the last step, the last step's.
pub fn one_cycle(eta0: f64, s: u64, total: u64) -> f64 {
    let s = s.min(total.saturating_sub(1)) as f64;
    let initial = eta0 / DIV_FACTOR;
    let min = initial / FINAL_DIV_FACTOR;
    let end_up = PCT_START * total as f64 - 1.0;
    let end_down = total as f64 - 1.0;
    let anneal =
        |start: f64, end: f64, pct: f64| end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0);
    match s <= end_up {
        true => anneal(initial, eta0, s / end_up),
        false => anneal(eta0, min, (s - end_up) / (end_down - end_up)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_by_hand() {
        assert_eq!(cosine(0.1, 0, 10), 0.1);
        assert!((cosine(0.1, 5, 10) - 0.05).abs() < 1e-17);
        assert_eq!(cosine(0.1, 10, 10), 0.0);
        // PyTorch's formula past T_max: up again, symmetric about T_max.
        assert!((cosine(0.1, 13, 10) - cosine(0.1, 7, 10)).abs() < 1e-16);
    }

    #[test]
    fn step_by_hand() {
        let lrs: Vec<f64> = (0..7).map(|e| step(1.0, e, 3, 0.5)).collect();
        assert_eq!(lrs, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
    }

    #[test]
    fn warm_up_rises_linearly_to_the_first_step_size() {
        let lrs: Vec<f64> = (0..3).map(|e| warm_up(0.8, e, 3)).collect();
        assert_eq!(lrs, [0.2, 0.4, 0.6000000000000001]);
        let clock = |epoch| Clock {
            epoch,
            batch: 0,
            batches: 1,
            horizon: 4,
        };
        let cos = Schedule::Cosine { t_max: None };
        assert_eq!(rate(cos, 3, 0.8, 0.8, clock(3)), 0.8); // the schedule's epoch 0
        assert!((rate(cos, 3, 0.8, 0.8, clock(5)) - 0.4).abs() < 1e-16); // its epoch 2 of 4
        assert_eq!(rate(Schedule::Constant, 0, 0.8, 0.3, clock(9)), 0.3);
    }

    /// One cycle: from η₀/25 up to η₀ at step 0.3 S − 1, then down to η₀/25e4 at S − 1.
    #[test]
    fn one_cycle_by_hand() {
        let total = 100;
        assert!((one_cycle(1.0, 0, total) - 0.04).abs() < 1e-16);
        assert_eq!(one_cycle(1.0, 29, total), 1.0);
        assert!((one_cycle(1.0, 99, total) - 4e-6).abs() < 1e-20);
        assert_eq!(one_cycle(1.0, 150, total), one_cycle(1.0, 99, total));
        let lrs: Vec<f64> = (0..total).map(|s| one_cycle(1.0, s, total)).collect();
        assert!(lrs[..30].windows(2).all(|w| w[0] < w[1]));
        assert!(lrs[29..].windows(2).all(|w| w[0] > w[1]));
        // A single step: the last (smallest) step size, as PyTorch's second phase gives.
        assert!((one_cycle(1.0, 0, 1) - 4e-6).abs() < 1e-20);
    }
}
