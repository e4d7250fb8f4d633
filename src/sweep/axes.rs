//! A sweep file's axes: `[grid]` lists, crossed in full, and `[random]` draws from a seeded
//! generator. Each axis is a training setting (a key of `config.toml`); a trial's settings are
//! one value per axis.

use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

/// One `[random]` axis: where its values are drawn from.
#[derive(Clone, Debug, PartialEq)]
pub enum Draw {
    /// `{ choice = [a, b, ...] }`: one of the values, each as likely.
    Choice(Vec<Value>),
    /// `{ uniform = [lo, hi] }`: a real number in [lo, hi).
    Uniform(f64, f64),
    /// `{ log_uniform = [lo, hi] }`: a real number whose logarithm is uniform in [ln lo, ln hi); lo > 0.
    LogUniform(f64, f64),
    /// `{ int_uniform = [lo, hi] }`: a whole number in lo..=hi.
    IntUniform(i64, i64),
}

/// The kinds a `[random]` axis may name.
pub const DRAW_KINDS: &str = "choice = [...], uniform = [lo, hi], log_uniform = [lo, hi] or int_uniform = [lo, hi]";

/// The axes of a sweep, keys in alphabetical order (the order trials are enumerated in).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Axes {
    /// `[grid]`: every combination, the last key varying fastest.
    pub grid: Vec<(String, Vec<Value>)>,
    /// `[random]`'s axes.
    pub random: Vec<(String, Draw)>,
    /// `[random] trials`: draws per grid point (1 without `[random]`).
    pub draws: usize,
    /// `[random] seed`.
    pub seed: u64,
}

/// Most trials one sweep file may expand to (a typo such as a long list crossed with another).
pub const MAX_TRIALS: usize = 100_000;

fn pair(key: &str, kind: &str, v: &Value) -> Result<(f64, f64), String> {
    let bad = || format!("`random.{key}`: {kind} takes [lo, hi], two numbers with lo <= hi");
    let [lo, hi] = v.as_array().map(|a| a.as_slice()).unwrap_or(&[]) else { return Err(bad()) };
    let (Some(lo), Some(hi)) = (lo.as_f64(), hi.as_f64()) else { return Err(bad()) };
    if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn draw_of(key: &str, v: &Value) -> Result<Draw, String> {
    let spec = v.as_object().filter(|o| o.len() == 1).ok_or_else(|| format!("`random.{key}`: give one of {DRAW_KINDS}"))?;
    let (kind, arg) = spec.iter().next().ok_or_else(|| format!("`random.{key}`: give one of {DRAW_KINDS}"))?;
    Ok(match kind.as_str() {
        "choice" => match arg.as_array() {
            Some(a) if !a.is_empty() => Draw::Choice(a.clone()),
            _ => return Err(format!("`random.{key}`: choice takes a non-empty list of values")),
        },
        "uniform" => {
            let (lo, hi) = pair(key, kind, arg)?;
            Draw::Uniform(lo, hi)
        }
        "log_uniform" => {
            let (lo, hi) = pair(key, kind, arg)?;
            if lo <= 0.0 {
                return Err(format!("`random.{key}`: log_uniform needs lo > 0 (got {lo})"));
            }
            Draw::LogUniform(lo, hi)
        }
        "int_uniform" => {
            let ints = arg.as_array().map(|a| a.iter().map(Value::as_i64).collect::<Option<Vec<i64>>>());
            match ints {
                Some(Some(v)) if v.len() == 2 && v[0] <= v[1] => Draw::IntUniform(v[0], v[1]),
                _ => return Err(format!("`random.{key}`: int_uniform takes [lo, hi], two whole numbers with lo <= hi")),
            }
        }
        k => return Err(format!("`random.{key}`: `{k}` is not a kind of draw; give one of {DRAW_KINDS}")),
    })
}

impl Axes {
    /// Reads `[grid]` and `[random]` (each a JSON object from the TOML); `is_setting` says which
    /// keys are training settings an axis may vary. Errors name the key.
    pub fn parse(grid: Option<&Value>, random: Option<&Value>, is_setting: &dyn Fn(&str) -> Result<(), String>) -> Result<Axes, String> {
        let mut axes = Axes { draws: 1, ..Axes::default() };
        if let Some(g) = grid {
            let g = g.as_object().ok_or("`grid`: must be a table of lists, e.g. [grid] lr = [0.01, 0.1]")?;
            for (key, values) in sorted(g) {
                is_setting(key).map_err(|m| format!("`grid.{key}`: {m}"))?;
                match values.as_array() {
                    Some(v) if !v.is_empty() => axes.grid.push((key.clone(), v.clone())),
                    _ => return Err(format!("`grid.{key}`: must be a non-empty list of values, e.g. {key} = [a, b]")),
                }
            }
        }
        if let Some(r) = random {
            let r = r.as_object().ok_or("`random`: must be a table: trials, seed and the axes to draw")?;
            let whole = |k: &str, min: u64| -> Result<Option<u64>, String> {
                match r.get(k) {
                    None => Ok(None),
                    Some(v) => v.as_u64().filter(|&n| n >= min).map(Some).ok_or_else(|| format!("`random.{k}`: must be a whole number >= {min}")),
                }
            };
            axes.draws = whole("trials", 1)?.ok_or("`random.trials`: missing; say how many trials to draw (per grid point)")? as usize;
            axes.seed = whole("seed", 0)?.unwrap_or(0);
            for (key, v) in sorted(r).into_iter().filter(|(k, _)| *k != "trials" && *k != "seed") {
                is_setting(key).map_err(|m| format!("`random.{key}`: {m}"))?;
                if axes.grid.iter().any(|(g, _)| g == key) {
                    return Err(format!("`random.{key}`: is a grid axis too; vary a setting one way"));
                }
                axes.random.push((key.clone(), draw_of(key, v)?));
            }
        }
        let grid_points = axes.grid.iter().try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()));
        match grid_points.and_then(|n| n.checked_mul(axes.draws)) {
            Some(n) if n <= MAX_TRIALS => Ok(axes),
            _ => Err(format!("the axes make more than {MAX_TRIALS} trials")),
        }
    }

    /// Number of trials: grid points × draws.
    pub fn trials(&self) -> usize {
        self.grid.iter().map(|(_, v)| v.len()).product::<usize>() * self.draws
    }

    /// Every trial's settings, in trial order: grid point `t / draws` (the last grid key varying
    /// fastest), then that trial's draws, taken in trial order from one ChaCha8 generator seeded
    /// with `seed`, keys alphabetically.
    pub fn expand(&self) -> Vec<Map<String, Value>> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        (0..self.trials())
            .map(|t| {
                let mut settings = Map::new();
                let mut rest = t / self.draws;
                let mut picks = Vec::with_capacity(self.grid.len());
                for (key, values) in self.grid.iter().rev() {
                    picks.push((key.clone(), values[rest % values.len()].clone()));
                    rest /= values.len();
                }
                settings.extend(picks.into_iter().rev());
                for (key, d) in &self.random {
                    let v = match d {
                        Draw::Choice(c) => c[rng.random_range(0..c.len())].clone(),
                        Draw::Uniform(lo, hi) => number(if lo == hi { *lo } else { rng.random_range(*lo..*hi) }),
                        Draw::LogUniform(lo, hi) => number(if lo == hi { *lo } else { rng.random_range(lo.ln()..hi.ln()).exp() }),
                        Draw::IntUniform(lo, hi) => Value::from(rng.random_range(*lo..=*hi)),
                    };
                    settings.insert(key.clone(), v);
                }
                settings
            })
            .collect()
    }
}

fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn sorted(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn any(_: &str) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn grid_crosses_with_the_last_key_fastest_and_draws_repeat() {
        let a = Axes::parse(Some(&json!({"lr": [0.1, 0.2], "batch": [8, 16, 32]})), None, &any).unwrap();
        let t = a.expand();
        assert_eq!(t.len(), 6);
        assert_eq!(t[0], *json!({"batch": 8, "lr": 0.1}).as_object().unwrap());
        assert_eq!(t[1], *json!({"batch": 8, "lr": 0.2}).as_object().unwrap());
        assert_eq!(t[5], *json!({"batch": 32, "lr": 0.2}).as_object().unwrap());
        let r = json!({"trials": 3, "seed": 7, "lr": {"log_uniform": [1e-4, 1e-1]}, "hidden": {"choice": [[8], [16, 8]]}, "epochs": {"int_uniform": [2, 4]}});
        let a = Axes::parse(Some(&json!({"seed": [0, 1]})), Some(&r), &any).unwrap();
        let t = a.expand();
        assert_eq!(t.len(), 6);
        assert_eq!(t, a.expand(), "draws are seeded");
        for s in &t {
            let lr = s["lr"].as_f64().unwrap();
            assert!((1e-4..1e-1).contains(&lr), "{lr}");
            assert!((2..=4).contains(&s["epochs"].as_i64().unwrap()));
        }
        assert_eq!((t[0]["seed"].clone(), t[3]["seed"].clone()), (json!(0), json!(1)));
        assert_ne!(t[0]["lr"], t[1]["lr"]);
    }

    #[test]
    fn bad_axes_name_their_key() {
        let e = |g: Value, r: Value| Axes::parse(Some(&g), Some(&r), &any).unwrap_err();
        assert!(e(json!({"lr": []}), json!({"trials": 1})).starts_with("`grid.lr`"));
        assert!(e(json!({"lr": 0.1}), json!({"trials": 1})).starts_with("`grid.lr`"));
        assert!(e(json!({}), json!({"trials": 0})).starts_with("`random.trials`"));
        assert!(e(json!({}), json!({"trials": 2, "lr": {"log_uniform": [0, 1]}})).starts_with("`random.lr`"));
        assert!(e(json!({}), json!({"trials": 2, "lr": {"normal": [0, 1]}})).starts_with("`random.lr`"));
        assert!(e(json!({"lr": [0.1]}), json!({"trials": 2, "lr": {"uniform": [0.1, 0.2]}})).starts_with("`random.lr`"));
    }
}
