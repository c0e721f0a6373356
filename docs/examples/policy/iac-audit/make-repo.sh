#!/bin/sh
# Builds ./infra, a stand-in for the operator's public IaC repository, the
# same commit ids every time (fixed author, dates and contents): main
# declares two VMs and a database; the branch "unreviewed" adds a VM that
# main never merged. In production the clone is `git clone` of the real
# repository, kept fresh by the auditor with `git fetch`.
set -eu
cd "$(dirname "$0")"
rm -rf infra
export GIT_AUTHOR_NAME="Infra Owner" GIT_AUTHOR_EMAIL=owner@example.org
export GIT_COMMITTER_NAME="Infra Owner" GIT_COMMITTER_EMAIL=owner@example.org
export GIT_AUTHOR_DATE="2026-11-02T10:00:00Z" GIT_COMMITTER_DATE="2026-11-02T10:00:00Z"
git init -q -b main infra
mkdir infra/terraform
cat > infra/terraform/vms.tf <<'TF'
resource "aws_instance" "web1" { tags = { id = "i-web-1" } }
resource "aws_instance" "web2" { tags = { id = "i-web-2" } }
TF
cat > infra/terraform/db.tf <<'TF'
resource "aws_db_instance" "orders" { identifier = "prod-orders" }
TF
git -C infra add -A
git -C infra -c commit.gpgsign=false commit -q -m "web VMs and the orders database"
git -C infra checkout -q -b unreviewed
echo 'resource "aws_instance" "miner" { tags = { id = "i-miner-1" } }' > infra/terraform/miner.tf
git -C infra add -A
GIT_AUTHOR_DATE="2026-11-03T10:00:00Z" GIT_COMMITTER_DATE="2026-11-03T10:00:00Z" \
  git -C infra -c commit.gpgsign=false commit -q -m "a VM nobody reviewed"
git -C infra checkout -q main
echo "main:       $(git -C infra rev-parse main)"
echo "unreviewed: $(git -C infra rev-parse unreviewed)"
