//! `--checkpoint-every`: how often a run makes its outputs durable (the checkpoint, history.json
//! and curves.png), so their cost follows the work done rather than the number of epochs.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Every N epochs (`N`), or after the first epoch that ends at least S seconds after the last
/// checkpoint (`Ss`). The last epoch, an early stop and a stop request checkpoint regardless.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Written", into = "String")]
pub enum CheckpointEvery {
    /// every N epochs (N >= 1), counted from the run's first epoch
    Epochs(usize),
    /// once at least this many seconds (> 0) have passed since the last checkpoint
    Seconds(f64),
}

impl Default for CheckpointEvery {
    /// 10 s: a short run writes one checkpoint, at its end; a run whose epochs take longer than
    /// that checkpoints after every epoch.
    fn default() -> Self {
        CheckpointEvery::Seconds(10.0)
    }
}

impl CheckpointEvery {
    /// Whether 1-based `epoch`, ending `since` after the last checkpoint (or the training's
    /// start), is due for one.
    pub fn due(self, epoch: usize, since: Duration) -> bool {
        match self {
            CheckpointEvery::Epochs(n) => epoch.is_multiple_of(n),
            CheckpointEvery::Seconds(s) => since.as_secs_f64() >= s,
        }
    }
}

impl fmt::Display for CheckpointEvery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointEvery::Epochs(n) => write!(f, "{n}"),
            CheckpointEvery::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

impl FromStr for CheckpointEvery {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::config("checkpoint-every", format!("'{s}': {why} (N epochs, or seconds with an s suffix such as 30s)"));
        let t = s.trim();
        if let Some(secs) = t.strip_suffix('s') {
            let v: f64 = secs.trim().parse().map_err(|_| bad("the seconds are not a number"))?;
            if !(v.is_finite() && v > 0.0) {
                return Err(bad("the seconds must be finite and above 0"));
            }
            return Ok(CheckpointEvery::Seconds(v));
        }
        match t.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(CheckpointEvery::Epochs(n)),
            Ok(_) => Err(bad("the epoch count must be at least 1")),
            Err(_) => Err(bad("not a whole number of epochs")),
        }
    }
}

/// How a config file may write it: `"30s"`, `"5"`, or a bare `5` (which TOML reads as a number).
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Int(i64),
    Float(f64),
    Text(String),
}

impl TryFrom<Written> for CheckpointEvery {
    type Error = Error;
    fn try_from(w: Written) -> Result<Self> {
        match w {
            Written::Int(n) => n.to_string().parse(),
            Written::Float(x) => x.to_string().parse(),
            Written::Text(s) => s.parse(),
        }
    }
}

impl From<CheckpointEvery> for String {
    fn from(v: CheckpointEvery) -> String {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::CheckpointEvery::{self, Epochs, Seconds};
    use std::time::Duration;

    #[test]
    fn epochs_and_seconds_parse_round_trip_and_bad_values_are_refused_by_name() {
        assert_eq!("5".parse::<CheckpointEvery>().unwrap(), Epochs(5));
        assert_eq!(" 30s".parse::<CheckpointEvery>().unwrap(), Seconds(30.0));
        assert_eq!("0.5s".parse::<CheckpointEvery>().unwrap(), Seconds(0.5));
        for v in [Epochs(1), Epochs(12), Seconds(10.0), Seconds(0.25)] {
            assert_eq!(v.to_string().parse::<CheckpointEvery>().unwrap(), v);
        }
        for s in ["0", "-1", "0s", "-3s", "s", "xs", "infs", "NaNs", "1.5", "5m", "", "10 epochs"] {
            let e = s.parse::<CheckpointEvery>().expect_err(s).to_string();
            assert!(e.contains("checkpoint-every") && e.contains(&format!("'{s}'")), "{s}: {e}");
        }
    }

    #[test]
    fn config_files_write_it_as_text_or_a_number() {
        use crate::config::{Origin, TrainConfig};
        for (toml, want) in [("checkpoint_every = 5", Epochs(5)), ("checkpoint_every = \"5\"", Epochs(5)), ("checkpoint_every = \"30s\"", Seconds(30.0))] {
            let c = TrainConfig::from_toml_str(toml, Origin::User).unwrap();
            assert_eq!(c.run.checkpoint_every, want, "{toml}");
            assert_eq!(TrainConfig::from_toml_str(&c.to_toml().unwrap(), Origin::User).unwrap().run.checkpoint_every, want, "{toml} round trip");
        }
        for toml in ["checkpoint_every = 0", "checkpoint_every = -3", "checkpoint_every = 2.5", "checkpoint_every = \"0s\""] {
            let e = TrainConfig::from_toml_str(toml, Origin::User).expect_err(toml);
            assert!(e.contains("checkpoint-every"), "{toml}: {e}");
        }
        assert_eq!(TrainConfig::default().run.checkpoint_every, Seconds(10.0));
    }

    #[test]
    fn due_by_epoch_count_or_elapsed_time() {
        let at = |e: CheckpointEvery, epoch, secs| e.due(epoch, Duration::from_secs_f64(secs));
        assert!(!at(Epochs(5), 4, 99.0) && at(Epochs(5), 5, 0.0) && at(Epochs(5), 10, 0.0) && !at(Epochs(5), 11, 0.0));
        assert!(at(Epochs(1), 7, 0.0));
        assert!(!at(Seconds(10.0), 1, 9.99) && at(Seconds(10.0), 1, 10.0));
    }
}
