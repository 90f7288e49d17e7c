//! Engine throughput on a generated tree of 10,000 resources in 1,000 files:
//! load (parse every file) + index + locate, and index + locate on a loaded tree.
//!
//! With `DRIFTFIX_BENCH_CHECKOV=<path to checkov>` it also times `driftfix scan` against `checkov -d`
//! on the same tree once and prints the ratio (run with `cargo bench --bench engine`).

use criterion::{Criterion, criterion_group};
use driftfix::finding::ResourceRef;
use driftfix::terraform::index::Index;
use driftfix::terraform::locate::{Locate, locate};
use driftfix::terraform::workspace::Workspace;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

const FILES: usize = 1_000;
const PER_FILE: usize = 10;

/// Write the tree: ten modules of 100 files, called from a root, resources of mixed kinds.
fn generate(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let mut main = String::from("# generated\n");
    for m in 0..10 {
        main.push_str(&format!("module \"m{m}\" {{\n  source = \"./modules/m{m}\"\n}}\n\n"));
    }
    std::fs::write(root.join("main.tf"), main).unwrap();
    for f in 0..FILES {
        let dir = root.join(format!("modules/m{}", f / 100));
        std::fs::create_dir_all(&dir).unwrap();
        let mut text = String::new();
        for r in 0..PER_FILE {
            let n = f * PER_FILE + r;
            text.push_str(&match n % 5 {
                0 => format!("# bucket {n}\nresource \"aws_s3_bucket\" \"b{n}\" {{\n  bucket = \"bucket-{n}\"\n\n  tags = {{\n    Name = \"bucket-{n}\"\n    Team = \"platform\"\n  }}\n}}\n\n"),
                1 => format!("resource \"aws_sqs_queue\" \"q{n}\" {{\n  name                       = \"queue-{n}\"\n  visibility_timeout_seconds = 30 # default\n}}\n\n"),
                2 => format!("resource \"aws_security_group\" \"sg{n}\" {{\n  name = \"sg-{n}\"\n\n  ingress {{\n    from_port   = 22\n    to_port     = 22\n    protocol    = \"tcp\"\n    cidr_blocks = [\"10.0.0.0/8\", \"0.0.0.0/0\"]\n  }}\n}}\n\n"),
                3 => format!("resource \"aws_dynamodb_table\" \"t{n}\" {{\n  name     = \"table-{n}\"\n  hash_key = \"id\"\n\n  attribute {{\n    name = \"id\"\n    type = \"S\"\n  }}\n}}\n\n"),
                _ => format!("resource \"aws_db_instance\" \"db{n}\" {{\n  identifier          = \"db-{n}\"\n  engine              = \"postgres\"\n  instance_class      = \"db.t3.micro\"\n  publicly_accessible = false\n  backup_retention_period = 7\n  storage_encrypted   = true\n}}\n\n"),
            });
        }
        std::fs::write(dir.join(format!("f{f}.tf")), text).unwrap();
    }
}

fn target() -> ResourceRef {
    ResourceRef {
        resource_type: "AWS::SQS::Queue".into(),
        id: "https://sqs.us-east-1.amazonaws.com/123456789012/queue-9991".into(),
        name: None,
        arn: None,
        account: "123456789012".into(),
        region: "us-east-1".into(),
    }
}

fn locate_one(ws: &Workspace, index: &Index) {
    match locate(&target(), ws, index, &[], &["aws_sqs_queue"]) {
        Locate::Found(l) => assert_eq!(l.address, "module.m9.aws_sqs_queue.q9991"),
        other => panic!("not found: {other:?}"),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let mut g = c.benchmark_group("10k resources in 1k files");
    g.sample_size(10);
    g.bench_function("load + index + locate", |b| {
        b.iter(|| {
            let ws = Workspace::load(dir.path()).unwrap();
            let index = Index::build(&ws);
            locate_one(black_box(&ws), black_box(&index));
        })
    });
    let ws = Workspace::load(dir.path()).unwrap();
    assert_eq!(ws.files().len(), FILES + 1);
    g.bench_function("index + locate", |b| {
        b.iter(|| {
            let index = Index::build(&ws);
            locate_one(black_box(&ws), black_box(&index));
        })
    });
    let index = Index::build(&ws);
    assert_eq!(index.resources().count(), FILES * PER_FILE);
    g.bench_function("locate", |b| b.iter(|| locate_one(black_box(&ws), black_box(&index))));
    g.finish();
}

/// One timed run of `driftfix scan` and `checkov -d` on the same tree.
fn scan_vs_checkov() {
    let Ok(checkov) = std::env::var("DRIFTFIX_BENCH_CHECKOV") else {
        println!("(set DRIFTFIX_BENCH_CHECKOV to compare driftfix scan with checkov -d)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let d = dir.path().to_str().unwrap();
    let t = Instant::now();
    let scan = std::process::Command::new(env!("CARGO_BIN_EXE_driftfix"))
        .args(["scan", d, "--output", "json"])
        .output()
        .unwrap();
    let ours = t.elapsed();
    let v: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    let t = Instant::now();
    let ck = std::process::Command::new(&checkov)
        .args(["-d", d, "--framework", "terraform", "-o", "json", "--skip-download", "--quiet"])
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .unwrap();
    let theirs = t.elapsed();
    println!(
        "driftfix scan: {:.2?} ({} findings) · checkov -d: {:.2?} (exit {:?}) · driftfix is {:.0}x faster",
        ours,
        v["findings"].as_array().map_or(0, Vec::len),
        theirs,
        ck.status.code(),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    scan_vs_checkov();
    criterion::Criterion::default().configure_from_args().final_summary();
}
