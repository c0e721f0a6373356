// Gossip decisions against a real tlog-tiles log over HTTP (StaticLogServer)
// and real peers (the monitor's own checkpoint route on an HttpServer), and
// two monitors gossiping with each other.
#include "verifier/monitor/gossip.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/cosignature.h"
#include "core/http/http_fetcher.h"
#include "core/http/http_server.h"
#include "core/note.h"
#include "verifier/monitor/log_monitor.h"
#include "verifier/monitor/log_proof.h"
#include "verifier/monitor/monitor_http.h"
#include "verifier/monitor/testing/static_log.h"

namespace infratrail {
namespace {

namespace fs = std::filesystem;

constexpr char kOrigin[] = "gossip.test/log";

std::vector<std::string> History(absl::string_view tag, size_t n, size_t shared = 0) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(absl::StrCat(i < shared ? "e" : tag, "-", i));
  return out;
}

HttpFetcherOptions Fast() {
  HttpFetcherOptions o;
  o.timeout = std::chrono::milliseconds(5000);
  return o;
}

// A peer: the monitor's own route (what --http-addr serves), plus a status
// to answer instead.
class FakePeer {
 public:
  FakePeer() {
    router_.Add([this](const HttpRequest&) -> std::optional<HttpReply> {
      if (status_ == 0) return std::nullopt;
      HttpReply r;
      r.status = status_;
      r.text = "overloaded\n";
      r.content_type = "text/plain";
      return r;
    });
    router_.Add(CheckpointViews::Route(&views_));
    HttpServerOptions o;
    o.address = "127.0.0.1:0";
    o.threads = 1;
    server_ = *HttpServer::Start(o, &router_, {});
  }
  std::string Url() const { return absl::StrCat("http://127.0.0.1:", server_->port()); }
  void Serve(std::string note) { views_.Publish(kOrigin, std::move(note)); }
  void Fail(int status) { status_ = status; }

 private:
  CheckpointViews views_;
  HttpRouter router_;
  std::atomic<int> status_{0};
  std::unique_ptr<HttpServer> server_;  // last: stopped first
};

class GossipTest : public ::testing::Test {
 protected:
  GossipTest()
      : signer_(*NoteSigner::Generate(kOrigin)),
        key_(*NoteVerifier::Parse(signer_.VerifierKey())),
        main_(History("e", 1000)),
        fork_(History("fork", 1000, 300)),
        source_(*HttpLogSource::Create(log_.Url(), Fast())) {
    LogAt(1000);
  }

  void LogAt(uint64_t size) {
    log_.SetFiles(*BuildStaticLog(main_, size, signer_));
    log_size_ = size;
  }
  std::string Note(const std::vector<std::string>& entries, uint64_t size) {
    return *SignNote(CheckpointOf(entries, size, kOrigin)->Body(), {signer_});
  }
  GossipCheck Check(const std::string& peer_note, const std::string& trusted,
                    const GossipPeer& peer = GossipPeer{
                        .url = "http://peer", .label = "peer", .witness = {}}) {
    return CheckPeerNote(peer, peer_note, key_, View(trusted), hasher_);
  }
  // The monitor trusts `trusted`; the log's latest is of size log_size_.
  GossipView View(const std::string& trusted) {
    return GossipView{.trusted_note = trusted, .log_size = log_size_, .source = source_.get()};
  }
  static bool HasEvidence(const GossipCheck& c, const std::string& name) {
    for (const EvidenceFile& f : c.evidence) {
      if (f.name == name) return true;
    }
    return false;
  }

  NoteSigner signer_;
  NoteVerifier key_;
  std::vector<std::string> main_, fork_;
  StaticLogServer log_;
  std::unique_ptr<HttpLogSource> source_;
  uint64_t log_size_ = 0;
  Hasher hasher_;
};

TEST_F(GossipTest, EqualSizeEqualRootIsConsistent) {
  GossipCheck c = Check(Note(main_, 700), Note(main_, 700));
  EXPECT_EQ(c.outcome, GossipOutcome::kConsistent) << c.message;
  EXPECT_EQ(c.peer_size, 700u);
}

TEST_F(GossipTest, EqualSizeOtherRootIsASplitViewWithBothNotes) {
  GossipCheck c = Check(Note(fork_, 700), Note(main_, 700));
  ASSERT_EQ(c.outcome, GossipOutcome::kSplitView);
  EXPECT_EQ(c.kind, "split_view");
  EXPECT_NE(c.message.find("http://peer"), std::string::npos) << c.message;
  EXPECT_TRUE(HasEvidence(c, "monitor.checkpoint"));
  EXPECT_TRUE(HasEvidence(c, "peer.checkpoint"));
  EXPECT_FALSE(c.key.empty());
}

TEST_F(GossipTest, SmallerPeerIsProvenFromTheLogsTiles) {
  EXPECT_EQ(Check(Note(main_, 300), Note(main_, 700)).outcome, GossipOutcome::kConsistent);
  // Another history, signed by the log at a smaller size.
  GossipCheck c = Check(Note(fork_, 500), Note(main_, 700));
  ASSERT_EQ(c.outcome, GossipOutcome::kSplitView) << c.message;
  EXPECT_NE(c.message.find("consistency proof 500 -> 700"), std::string::npos) << c.message;
  EXPECT_GT(c.evidence.size(), 3u);  // both notes, the peer's URL and the tiles
}

TEST_F(GossipTest, LargerPeerIsProvenFromTheLogsTiles) {
  EXPECT_EQ(Check(Note(main_, 1000), Note(main_, 700)).outcome, GossipOutcome::kConsistent);
  GossipCheck c = Check(Note(fork_, 1000), Note(main_, 700));
  EXPECT_EQ(c.outcome, GossipOutcome::kSplitView) << c.message;
}

TEST_F(GossipTest, LargerPeerTheLogDoesNotServeYetIsPendingNotAFinding) {
  LogAt(700);
  GossipCheck c = Check(Note(main_, 1000), Note(main_, 700));
  EXPECT_EQ(c.outcome, GossipOutcome::kPending) << c.message;
  EXPECT_TRUE(c.retry);
  EXPECT_EQ(c.peer_size, 1000u);
  LogAt(1000);
  EXPECT_EQ(Check(Note(main_, 1000), Note(main_, 700)).outcome, GossipOutcome::kConsistent);
}

// A source like the gRPC API: no hash tiles, proofs as served (here the
// honest ones, built from the tiles of `inner`), NotFound beyond `size`.
class ProofOnlySource final : public LogSource {
 public:
  ProofOnlySource(LogSource* inner, uint64_t size) : inner_(inner), size_(size) {}
  absl::StatusOr<std::string> Checkpoint(bool bypass_caches) override {
    return inner_->Checkpoint(bypass_caches);
  }
  std::vector<absl::StatusOr<std::string>> Tiles(absl::Span<const TileId> tiles) override {
    return inner_->Tiles(tiles);
  }
  bool ServesHashTiles() const override { return false; }
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to) override {
    if (to > size_) return absl::NotFoundError("OUT_OF_RANGE: beyond the tree");
    Hasher h;
    absl::StatusOr<ServedProof> p = FetchConsistencyProof(inner_, from, to, size_, h);
    if (!p.ok()) return p.status();
    return p->proof;
  }
  std::string Describe() const override { return "grpc://fake"; }

 private:
  LogSource* inner_;
  uint64_t size_;
};

TEST_F(GossipTest, WithoutHashTilesTheServedProofDecides) {
  ProofOnlySource grpc(source_.get(), 1000);
  GossipView view{.trusted_note = Note(main_, 700), .log_size = 1000, .source = &grpc};
  const GossipPeer peer{.url = "http://peer", .label = "peer", .witness = {}};
  EXPECT_EQ(CheckPeerNote(peer, Note(main_, 1000), key_, view, hasher_).outcome,
            GossipOutcome::kConsistent);
  EXPECT_EQ(CheckPeerNote(peer, Note(main_, 200), key_, view, hasher_).outcome,
            GossipOutcome::kConsistent);
  GossipCheck c = CheckPeerNote(peer, Note(fork_, 1000), key_, view, hasher_);
  ASSERT_EQ(c.outcome, GossipOutcome::kSplitView) << c.message;
  EXPECT_TRUE(HasEvidence(c, "consistency.proof"));
  ProofOnlySource behind(source_.get(), 700);
  view.source = &behind;
  EXPECT_EQ(CheckPeerNote(peer, Note(main_, 1000), key_, view, hasher_).outcome,
            GossipOutcome::kPending);
}

TEST_F(GossipTest, NothingTrustedYetIsConsistentWithAnything) {
  EXPECT_EQ(Check(Note(fork_, 1000), "").outcome, GossipOutcome::kConsistent);
}

TEST_F(GossipTest, NoteTheLogDidNotSignIsAnOperationalError) {
  // The log's name, another key: the peer served garbage, not a split view.
  NoteSigner impostor = *NoteSigner::Generate(kOrigin);
  GossipCheck c =
      Check(*SignNote(CheckpointOf(fork_, 700, kOrigin)->Body(), {impostor}), Note(main_, 700));
  EXPECT_EQ(c.outcome, GossipOutcome::kError);
  EXPECT_EQ(c.kind, "bad_signature");
  c = Check("<html>oops</html>", Note(main_, 700));
  EXPECT_EQ(c.outcome, GossipOutcome::kError);
  EXPECT_EQ(c.kind, "malformed");
}

TEST_F(GossipTest, PolicyWitnessMustHaveCosignedWhatItServes) {
  NoteSigner w = *NoteSigner::Generate("witness.test/w1");
  GossipPeer peer{.url = "http://w1",
                  .label = "w1",
                  .witness = *NoteVerifier::Parse(w.CosignatureVerifierKey())};
  const std::string note = Note(main_, 700);
  GossipCheck c = Check(note, note, peer);
  EXPECT_EQ(c.outcome, GossipOutcome::kError);
  EXPECT_EQ(c.kind, "no_cosignature");
  const std::string cosigned =
      *AddSignatures(note, {*Cosign(w, ParseNote(note)->text, 1763800000)});
  EXPECT_EQ(Check(cosigned, note, peer).outcome, GossipOutcome::kConsistent);
}

TEST_F(GossipTest, RoundFetchesEveryPeerAndNeverTurnsABlipIntoAFinding) {
  FakePeer good, empty, failing, forked;
  good.Serve(Note(main_, 1000));
  failing.Fail(503);
  forked.Serve(Note(fork_, 700));
  std::string gone;
  {
    FakePeer closed;
    gone = closed.Url();
  }
  std::vector<GossipPeer> peers;
  for (const std::string& url : {good.Url(), empty.Url(), failing.Url(), gone, forked.Url()}) {
    peers.push_back(GossipPeer{.url = url, .label = GossipLabel(url), .witness = {}});
  }
  Gossip g(peers, *HttpFetcher::Create(Fast()), key_);
  std::vector<Gossip::PeerResult> r = g.Round(View(Note(main_, 700)));
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].check.kind, "consistent") << r[0].check.message;
  EXPECT_EQ(r[1].check.kind, "nothing_yet");
  EXPECT_EQ(r[2].check.kind, "http_status");
  EXPECT_EQ(r[3].check.kind, "unreachable") << r[3].check.message;
  EXPECT_EQ(r[4].check.kind, "split_view");
  EXPECT_NE(r[4].check.message.find(forked.Url()), std::string::npos);
}

TEST_F(GossipTest, PendingNoteIsCheckedAgainNextRound) {
  LogAt(700);
  FakePeer ahead;
  ahead.Serve(Note(fork_, 1000));
  Gossip g({GossipPeer{.url = ahead.Url(), .label = "ahead", .witness = {}}},
           *HttpFetcher::Create(Fast()), key_);
  std::vector<Gossip::PeerResult> r = g.Round(View(Note(main_, 700)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].check.kind, "pending");
  // The peer moves on to something it no longer contradicts us with; the
  // note it served before is still checked once the log serves its size.
  ahead.Serve(Note(main_, 700));
  LogAt(1000);
  r = g.Round(View(Note(main_, 700)));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].check.kind, "split_view") << r[0].check.message;
  EXPECT_EQ(r[1].check.kind, "consistent");
  // Decided: not checked again.
  EXPECT_EQ(g.Round(View(Note(main_, 700))).size(), 1u);
}

// Two real LogMonitors in one process: A serves its view on an HttpServer,
// B gossips with it.
class TwoMonitorsTest : public GossipTest {
 protected:
  TwoMonitorsTest()
      : dir_(fs::path(::testing::TempDir()) /
             absl::StrCat("gossip_", ::getpid(), "_",
                          ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    config_.bundles_per_batch = 4;
    router_.Add(CheckpointViews::Route(&views_));
    HttpServerOptions o;
    o.address = "127.0.0.1:0";
    o.threads = 1;
    server_ = *HttpServer::Start(o, &router_, {});
  }
  ~TwoMonitorsTest() override {
    server_.reset();
    fs::remove_all(dir_);
  }

  std::unique_ptr<LogMonitor> Monitor(const std::string& name, const std::string& log_url,
                                      std::vector<GossipPeer> peers, CheckpointViews* views) {
    MonitoredLog log;
    log.url = log_url;
    log.key = key_;
    log.entry_format = EntryFormat::kOpaque;
    log.state_dir = (dir_ / name).string();
    log.peers = peers;
    logs_.push_back(std::make_unique<MonitoredLog>(log));
    MonitorState state;
    state.log_key = key_.vkey();
    LogMonitorContext context;
    context.config = &config_;
    context.channels = &channels_;
    context.stop = [] { return false; };
    context.views = views;
    std::unique_ptr<Gossip> gossip;
    if (!peers.empty()) {
      gossip = std::make_unique<Gossip>(peers, *HttpFetcher::Create(Fast()), key_);
    }
    return std::make_unique<LogMonitor>(
        *logs_.back(),
        LogState{.dir = *StateDir::Open(log.state_dir), .state = state, .since = absl::Now()},
        *HttpLogSource::Create(log_url, Fast()), std::move(gossip), context);
  }
  std::string ViewUrl() const {
    return absl::StrCat("http://127.0.0.1:", server_->port(), "/", HashToHex(Sha256(kOrigin)),
                        "/checkpoint");
  }

  fs::path dir_;
  MonitorConfig config_;
  std::vector<std::unique_ptr<Channel>> channels_;
  std::vector<std::unique_ptr<MonitoredLog>> logs_;
  CheckpointViews views_;
  HttpRouter router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TwoMonitorsTest, MonitorsGossipAndCatchASplitView) {
  std::unique_ptr<HttpFetcher> client = *HttpFetcher::Create(Fast());
  // A serves nothing before it has verified a checkpoint.
  EXPECT_EQ(client->Get(ViewUrl(), 1 << 16)->status, 404);
  std::unique_ptr<LogMonitor> a = Monitor("a", log_.Url(), {}, &views_);
  ASSERT_TRUE(a->Round(absl::Hours(1)).complete);
  absl::StatusOr<HttpResponse> served = client->Get(ViewUrl(), 1 << 16);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->status, 200);
  EXPECT_EQ(served->body, a->state().audit.trusted_note);
  // B follows the same log and gossips with A: nothing to report.
  const GossipPeer peer_a{
      .url = absl::StrCat("http://127.0.0.1:", server_->port()), .label = "a", .witness = {}};
  std::unique_ptr<LogMonitor> b = Monitor("b", log_.Url(), {peer_a}, nullptr);
  RoundResult rb = b->Round(absl::Hours(1));
  EXPECT_TRUE(rb.complete);
  EXPECT_EQ(rb.critical, 0u);
  // C is shown another history of the same size, under the same key.
  StaticLogServer forked_log(*BuildStaticLog(fork_, 1000, signer_));
  std::unique_ptr<LogMonitor> c = Monitor("c", forked_log.Url(), {peer_a}, nullptr);
  RoundResult rc = c->Round(absl::Hours(1));
  EXPECT_TRUE(rc.complete);
  EXPECT_EQ(rc.critical, 1u);
  ASSERT_EQ(c->state().spool.size(), 0u);  // no channel: delivered to none, dropped
  // The evidence is in C's state dir: both notes, naming A.
  bool found = false;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_ / "c" / "evidence")) {
    if (e.path().filename().string().find("log.split_view") == std::string::npos) continue;
    found = true;
    std::ifstream peer(e.path() / "peer.checkpoint");
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(peer), {}), served->body);
    std::ifstream mine(e.path() / "monitor.checkpoint");
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(mine), {}), c->state().audit.trusted_note);
    std::ifstream readme(e.path() / "README");
    EXPECT_NE(std::string(std::istreambuf_iterator<char>(readme), {}).find(peer_a.url),
              std::string::npos);
  }
  EXPECT_TRUE(found);
  // Reported once: the next round knows it.
  rc = c->Round(absl::Hours(1));
  EXPECT_EQ(rc.critical, 0u);
  EXPECT_EQ(rc.known, 1u);
}

}  // namespace
}  // namespace infratrail
