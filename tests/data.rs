//! Data layer: the bundled digits, every bad-IDX case, CSV parsing, splits and k-fold.

use flate2::write::GzEncoder;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use wgpu_mlp::data::*;
use wgpu_mlp::Error;

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx_images(n: u32, rows: u32, cols: u32, pixels: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x803u32, n, rows, cols] {
        v.extend(x.to_be_bytes());
    }
    v.extend((0..pixels).map(|i| i as u8));
    v
}

fn idx_labels(n: u32, labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x801u32, n] {
        v.extend(x.to_be_bytes());
    }
    v.extend(labels);
    v
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Asserts a BadFile error naming `file` whose message contains `needle`.
fn assert_bad(r: wgpu_mlp::Result<impl std::fmt::Debug>, file: &Path, needle: &str) {
    match r {
        Err(Error::BadFile { path, msg }) => {
            assert_eq!(path, file, "wrong file named: {msg}");
            assert!(msg.contains(needle), "message '{msg}' lacks '{needle}'");
        }
        other => panic!("expected BadFile containing '{needle}', got {other:?}"),
    }
}

#[test]
fn bundled_mnist_is_the_real_test_set() {
    let ds = bundled_mnist().unwrap();
    assert_eq!(ds.len, 10_000);
    assert_eq!(ds.dim, 784);
    assert_eq!(ds.image_shape, Some((28, 28)));
    let Targets::Classes { labels, num_classes } = &ds.targets else { panic!("not classes") };
    assert_eq!(*num_classes, 10);
    assert_eq!(labels[0], 7, "the first MNIST test digit is a 7");
    let mut hist = [0usize; 10];
    labels.iter().for_each(|&l| hist[l as usize] += 1);
    // Known class counts of the MNIST test set.
    assert_eq!(hist, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    let Features::U8(px) = &ds.features else { panic!("not u8") };
    assert!(px.contains(&255) && px.contains(&0));
}

#[test]
fn good_idx_pair_plain_and_gz_and_dir() {
    let d = tempfile::tempdir().unwrap();
    let img = idx_images(3, 2, 2, 12);
    let lab = idx_labels(3, &[0, 9, 4]);
    let a = load_idx_pair(write(d.path(), "i", &img), write(d.path(), "l", &lab)).unwrap();
    // gzip detected from the header, whatever the name says
    let b = load_idx_pair(write(d.path(), "i2.bin", &gz(&img)), write(d.path(), "l2", &gz(&lab))).unwrap();
    assert_eq!(a, b);
    assert_eq!((a.len, a.dim, a.image_shape), (3, 4, Some((2, 2))));

    write(d.path(), "train-images-idx3-ubyte.gz", &gz(&img));
    write(d.path(), "train-labels-idx1-ubyte", &lab);
    let dir = load_idx_dir(d.path()).unwrap();
    assert_eq!(dir.train.as_ref(), Some(&a));
    assert!(dir.test.is_none());
}

#[test]
fn bad_idx_files_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let good_lab = write(d.path(), "good-labels", &idx_labels(3, &[1, 2, 3]));
    let good_img = write(d.path(), "good-images", &idx_images(3, 2, 2, 12));
    for zipped in [false, true] {
        let w = |name: &str, bytes: Vec<u8>| write(d.path(), &format!("{name}{zipped}"), &if zipped { gz(&bytes) } else { bytes });

        let p = w("magic", idx_labels(3, &[1, 2, 3]));
        assert_bad(load_idx_pair(&p, &good_lab), &p, "magic number is 0x00000801, expected 0x00000803");
        let p = w("magic2", b"hello world, this is not idx".to_vec());
        assert_bad(load_idx_pair(&good_img, &p), &p, "magic number");
        let p = w("trunc", idx_images(3, 2, 2, 11));
        assert_bad(load_idx_pair(&p, &good_lab), &p, "truncated");
        let p = w("trunc_header", vec![0, 0, 8, 3, 0, 0]);
        assert_bad(load_idx_pair(&p, &good_lab), &p, "truncated");
        let p = w("trail", idx_images(3, 2, 2, 13));
        assert_bad(load_idx_pair(&p, &good_lab), &p, "trailing");
        let p = w("trunc_labels", idx_labels(4, &[1, 2, 3]));
        assert_bad(load_idx_pair(&good_img, &p), &p, "truncated");
        let p = w("count", idx_labels(2, &[1, 2]));
        assert_bad(load_idx_pair(&good_img, &p), &p, "holds 2 labels but");
        let p = w("range", idx_labels(3, &[1, 10, 3]));
        assert_bad(load_idx_pair(&good_img, &p), &p, "label 10 of sample 1 is outside 0..10");
        let p = w("zero", idx_images(0, 28, 28, 0));
        assert_bad(load_idx_pair(&p, &good_lab), &p, "zero images");
        let p = w("empty", vec![]);
        assert_bad(load_idx_pair(&p, &good_lab), &p, "empty");
    }
    let p = write(d.path(), "badgz", &gz(&idx_images(3, 2, 2, 12))[..20]);
    assert_bad(load_idx_pair(&p, &good_lab), &p, "corrupt gzip");
    let missing = d.path().join("nope");
    match load_idx_pair(&missing, &good_lab) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    let labels = read_idx_labels(&good_lab, 3);
    assert_bad(labels, &good_lab, "label 3 of sample 2 is outside 0..3");
}

#[test]
fn bad_idx_dirs() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("missing");
    assert_bad(load_idx_dir(&missing), &missing, "no such directory");
    assert_bad(load_idx_dir(d.path()), d.path(), "holds no IDX data");
    write(d.path(), "t10k-images-idx3-ubyte.gz", &gz(&idx_images(1, 1, 1, 1)));
    assert_bad(load_idx_dir(d.path()), d.path(), "but not its labels");
}

fn csv_file(dir: &Path, text: &str) -> PathBuf {
    write(dir, "t.csv", text.as_bytes())
}

#[test]
fn csv_classification_regression_auto() {
    let d = tempfile::tempdir().unwrap();
    let p = csv_file(d.path(), "a, b ,y\n1,2,7\n3,4.5,3\n-1e2,0,7\n");
    let c = load_csv(&p, "y", CsvTask::Auto).unwrap();
    assert_eq!(c.dataset.features, Features::F32(vec![1., 2., 3., 4.5, -100., 0.]));
    assert_eq!(c.dataset.targets, Targets::Classes { labels: vec![1, 0, 1], num_classes: 2 });
    assert_eq!(c.class_names, Some(vec!["3".to_string(), "7".to_string()]));
    assert_eq!(c.feature_names, vec!["a", "b"]);
    // target by index, regression
    let r = load_csv(&p, "2", CsvTask::Regression).unwrap();
    assert_eq!(r.dataset.targets, Targets::Values { data: vec![7., 3., 7.], dim: 1 });
    assert_eq!(r.class_names, None);
    // target in the middle; non-integer values → regression under Auto
    let r = load_csv(&p, "b", CsvTask::Auto).unwrap();
    assert_eq!(r.dataset.targets, Targets::Values { data: vec![2., 4.5, 0.], dim: 1 });
    assert_eq!(r.dataset.features, Features::F32(vec![1., 7., 3., 3., -100., 7.]));
    // names as classes, sorted
    let p = csv_file(d.path(), "x,species\n1,virginica\n2,setosa\n3,versicolor\n4,setosa\n");
    let c = load_csv(&p, "species", CsvTask::Auto).unwrap();
    assert_eq!(c.dataset.targets, Targets::Classes { labels: vec![2, 0, 1, 0], num_classes: 3 });
    assert_eq!(c.class_names.unwrap(), vec!["setosa", "versicolor", "virginica"]);
    // more than 100 distinct integers → regression under Auto
    let text: String = std::iter::once("x,y\n".to_string()).chain((0..101).map(|i| format!("{i},{i}\n"))).collect();
    let p = csv_file(d.path(), &text);
    assert!(matches!(load_csv(&p, "y", CsvTask::Auto).unwrap().dataset.targets, Targets::Values { .. }));
    assert!(matches!(load_csv(&p, "y", CsvTask::Classification).unwrap().dataset.targets, Targets::Classes { num_classes: 101, .. }));
}

#[test]
fn bad_csv_files_name_line_and_column() {
    let d = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("a,b,y\n1,2,0\n3,NaN,1\n", "y", "line 3, column 2 ('b'): 'NaN' is NaN"),
        ("a,b,y\n1,inf,0\n", "y", "line 2, column 2 ('b'): 'inf' is infinite"),
        ("a,b,y\n1,2,0\n1,-Infinity,1\n", "y", "line 3, column 2 ('b')"),
        ("a,b,y\n1,two,0\n", "y", "line 2, column 2 ('b'): 'two' is not a number"),
        ("a,b,y\n1,,0\n", "y", "line 2, column 2 ('b'): empty value"),
        ("a,b,y\n1,2,0\n1,2\n", "y", "line 3 has 2 fields but the header has 3"),
        ("a,b,y\n1,2,0\n", "z", "no target column 'z'"),
        ("a,b,y\n1,2,0\n", "5", "out of range"),
        ("", "y", "empty file"),
        ("a,b,y\n", "y", "no data rows"),
        ("a,b,y\n1,2,nan\n", "y", "line 2, column 3 ('y'): 'nan' is NaN"),
        ("a,b,y\n1,2,0\n1,2,cat\n", "y", "line 3, column 3 ('y'): 'cat' is not a number"),
        ("a,b,y\n1,2,1\n1,2,1\n", "y", "single class"),
    ];
    for (text, target, needle) in cases {
        let p = csv_file(d.path(), text);
        assert_bad(load_csv(&p, target, CsvTask::Auto), &p, needle);
    }
    let p = csv_file(d.path(), "a,y\n1,0.5\n2,1.5\n");
    assert_bad(load_csv(&p, "y", CsvTask::Classification), &p, "not an integer");
    let p = csv_file(d.path(), "a,y\n1,cat\n2,dog\n");
    assert_bad(load_csv(&p, "y", CsvTask::Regression), &p, "not a number");
}

fn toy(n: usize) -> Dataset {
    let labels = (0..n as u32).map(|i| i % 10).collect();
    Dataset::new(Features::F32((0..n).map(|i| i as f32).collect()), 1, Targets::Classes { labels, num_classes: 10 }).unwrap()
}

fn ids(ds: &Dataset) -> Vec<usize> {
    (0..ds.len).map(|i| ds.feature(i, 0) as usize).collect()
}

#[test]
fn epoch_order_is_seeded_permutation() {
    let a = epoch_order(1000, 42, 3, true);
    assert_eq!(a, epoch_order(1000, 42, 3, true));
    assert_ne!(a, epoch_order(1000, 42, 4, true));
    assert_ne!(a, epoch_order(1000, 43, 3, true));
    let mut s = a.clone();
    s.sort_unstable();
    assert_eq!(s, (0..1000).collect::<Vec<u32>>());
    assert_eq!(epoch_order(5, 42, 3, false), vec![0, 1, 2, 3, 4]);
    assert!(epoch_order(0, 1, 0, true).is_empty());
    // Pinned: a change here changes every run's sample order.
    assert_eq!(epoch_order(8, 0, 0, true), vec![5, 6, 1, 3, 4, 7, 2, 0]);
    assert_eq!(epoch_order(8, 0, 1, true), vec![3, 6, 0, 1, 4, 7, 2, 5]);
    assert_eq!(split_permutation(8, 0), vec![1, 7, 3, 4, 6, 5, 0, 2]);
}

#[test]
fn splits_are_disjoint_cover_and_reproducible() {
    let s = standard_splits(toy(10_000), None, None, 7).unwrap();
    let (tr, va, te) = (ids(&s.train), ids(s.val.as_ref().unwrap()), ids(s.test.as_ref().unwrap()));
    assert_eq!((tr.len(), va.len(), te.len()), (8000, 1000, 1000));
    let all: HashSet<usize> = tr.iter().chain(&va).chain(&te).copied().collect();
    assert_eq!(all.len(), 10_000);
    assert_eq!(standard_splits(toy(10_000), None, None, 7).unwrap(), s);
    assert_ne!(ids(&standard_splits(toy(10_000), None, None, 8).unwrap().train), tr);
    assert!(s.protocol.contains("8000 train"), "{}", s.protocol);

    // 60,000 + test file: the course's protocol, no shuffle
    let s = standard_splits(toy(60_000), Some(toy(100)), None, 7).unwrap();
    assert_eq!(ids(&s.train), (0..50_000).collect::<Vec<_>>());
    assert_eq!(ids(s.val.as_ref().unwrap()), (50_000..60_000).collect::<Vec<_>>());
    assert_eq!(s.test.unwrap().len, 100);

    // explicit validation with a test file
    let s = standard_splits(toy(100), Some(toy(5)), Some(Val::Fraction(0.25)), 1).unwrap();
    assert_eq!((s.train.len, s.val.as_ref().unwrap().len, s.test.as_ref().unwrap().len), (75, 25, 5));
    let all: HashSet<usize> = ids(&s.train).into_iter().chain(ids(s.val.as_ref().unwrap())).collect();
    assert_eq!(all.len(), 100);
    let s = standard_splits(toy(100), None, Some(Val::Count(10)), 1).unwrap();
    assert_eq!((s.train.len, s.val.unwrap().len, s.test.unwrap().len), (80, 10, 10));

    for bad in [Val::Count(0), Val::Count(100), Val::Fraction(0.0), Val::Fraction(1.0), Val::Fraction(f64::NAN)] {
        let e = standard_splits(toy(100), Some(toy(5)), Some(bad), 1).unwrap_err();
        assert!(matches!(e, Error::Config { .. }), "{e}");
    }
    assert!(standard_splits(toy(100), None, Some(Val::Count(50)), 1).is_err());
}

#[test]
fn kfold_properties_and_errors() {
    for (n, k) in [(10, 3), (7, 7), (100, 5), (11, 2)] {
        let folds = kfold(n, k, 3).unwrap();
        assert_eq!(folds.len(), k);
        let mut seen = vec![0; n];
        for (train, val) in &folds {
            assert!(val.len() == n / k || val.len() == n / k + 1);
            assert_eq!(train.len() + val.len(), n);
            let t: HashSet<_> = train.iter().collect();
            assert!(val.iter().all(|v| !t.contains(v)));
            val.iter().for_each(|&v| seen[v] += 1);
        }
        assert!(seen.iter().all(|&c| c == 1));
        assert_eq!(kfold(n, k, 3).unwrap(), folds);
    }
    assert_ne!(kfold(100, 5, 1).unwrap(), kfold(100, 5, 2).unwrap());
    assert!(kfold(10, 1, 0).is_err());
    assert!(kfold(10, 11, 0).is_err());
    assert!(kfold(0, 2, 0).is_err());
}

/// The full Fashion-MNIST (`apt-get install dataset-fashion-mnist`), when installed: the
/// 60,000-image train file splits 50,000 / 10,000 and the test file tests.
#[test]
fn fashion_mnist_dir_when_installed() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.exists() {
        eprintln!("skipped: {} is not installed", dir.display());
        return;
    }
    let IdxDir { train, test } = load_idx_dir(dir).unwrap();
    let (train, test) = (train.unwrap(), test.unwrap());
    assert_eq!((train.len, test.len, train.dim), (60_000, 10_000, 784));
    let s = standard_splits(train, Some(test), None, 0).unwrap();
    assert_eq!((s.train.len, s.val.unwrap().len, s.test.unwrap().len), (50_000, 10_000, 10_000));
}
