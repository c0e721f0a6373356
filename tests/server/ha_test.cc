// High availability on a shared PostgreSQL database (docs/ha.md): several
// infratrail-server processes on one database, one leading; failover under
// load with kill -9; database faults (a restart, a transaction failing
// mid-commit, a COMMIT whose reply is lost).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/checkpoint.h"
#include "gtest/gtest.h"
#include "server/testing/postgres_cluster.h"
#include "tests/server/log_client.h"
#include "tests/server/server_process.h"

namespace infratrail::testing {
namespace {

constexpr char kOrigin[] = "ha.infratrail.test/log";
// Short leases keep 20 failovers within the suite's budget. The takeover
// time with the default lease (docs/ha.md) is measured by running the test
// with INFRATRAIL_HA_LEASE_TTL_MS=3000.
int LeaseTtlMs() {
  static const int ttl = [] {
    const char* env = getenv("INFRATRAIL_HA_LEASE_TTL_MS");
    int v = 0;
    return env != nullptr && absl::SimpleAtoi(env, &v) && v >= 500 ? v : 1000;
  }();
  return ttl;
}

testutil::PostgresCluster* Cluster() { return testutil::PostgresCluster::Shared(); }

// Forwards TCP connections to PostgreSQL and, once armed, loses the reply
// to the next COMMIT of a transaction that inserted entries: the COMMIT
// reaches the database and takes effect, its answer never reaches the
// server, and the connection drops. Parses the protocol's message framing
// only (type byte, 4-byte length); connections must not use TLS.
class CommitReplyLosingProxy {
 public:
  explicit CommitReplyLosingProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listen_fd_, 64), 0);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~CommitReplyLosingProxy() {
    stopping_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (std::thread& t : pumps_) t.join();
  }
  int port() const { return port_; }
  void Arm() { armed_ = true; }
  bool fired() const { return fired_; }

 private:
  static int Connect(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  static bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      const ssize_t w = write(fd, p, n);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  static uint32_t Be32(const char* p) {
    return (uint32_t{static_cast<uint8_t>(p[0])} << 24) |
           (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
           (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
  }

  void Accept() {
    while (!stopping_) {
      const int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) return;
      const int server = Connect(target_port_);
      if (server < 0) {
        close(client);
        continue;
      }
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  // Both directions of one connection, on one thread.
  void Pump(int client, int server) {
    std::string from_client;  // unparsed client bytes
    bool started = false;     // the startup message (untyped) went through
    bool inserted_entries = false;
    bool swallowing = false;  // the COMMIT went; its reply is being dropped
    std::string from_server;  // while swallowing: unparsed server bytes
    char buf[65536];
    while (!stopping_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(fds, 2, 200) < 0) break;
      if (fds[0].revents != 0) {
        const ssize_t n = read(client, buf, sizeof(buf));
        if (n <= 0) break;
        from_client.append(buf, static_cast<size_t>(n));
        // Forward whole messages, looking at each.
        size_t pos = 0;
        bool closed = false;
        for (;;) {
          const size_t header = started ? 5 : 4;
          if (from_client.size() - pos < header) break;
          const uint32_t len = Be32(from_client.data() + pos + (started ? 1 : 0));
          const size_t total = (started ? 1 : 0) + len;
          if (from_client.size() - pos < total) break;
          absl::string_view msg(from_client.data() + pos, total);
          const char type = started ? msg[0] : 0;
          if ((type == 'P' || type == 'Q') && absl::StrContains(msg, "INSERT INTO entries")) {
            inserted_entries = true;
          }
          const bool commit = type == 'Q' && absl::StrContains(msg, "COMMIT");
          if (!WriteAll(server, msg.data(), msg.size())) {
            closed = true;
            break;
          }
          if (commit && inserted_entries && armed_.exchange(false)) swallowing = true;
          if (commit) inserted_entries = false;
          started = true;
          pos += total;
        }
        from_client.erase(0, pos);
        if (closed) break;
      }
      if (fds[1].revents != 0) {
        const ssize_t n = read(server, buf, sizeof(buf));
        if (n <= 0) break;
        if (!swallowing) {
          if (!WriteAll(client, buf, static_cast<size_t>(n))) break;
          continue;
        }
        // Drop everything up to and including ReadyForQuery ('Z'): the
        // COMMIT is then done in the database. Then cut the connection.
        from_server.append(buf, static_cast<size_t>(n));
        bool ready = false;
        size_t pos = 0;
        while (from_server.size() - pos >= 5) {
          const size_t total = 1 + Be32(from_server.data() + pos + 1);
          if (from_server.size() - pos < total) break;
          ready |= from_server[pos] == 'Z';
          pos += total;
        }
        from_server.erase(0, pos);
        if (ready) {
          fired_ = true;
          break;
        }
      }
    }
    close(client);
    close(server);
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> armed_{false};
  std::atomic<bool> fired_{false};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;  // the acceptor's, joined after it
};

class HaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Cluster(), nullptr);
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("infratrail-ha");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    absl::StatusOr<LogKey> key = MakeLogKey(dir_->path(), "log.key", kOrigin);
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = std::move(*key);
    absl::StatusOr<std::string> db = Cluster()->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    storage_ = *db;
    database_ = storage_.substr(storage_.rfind('/') + 1);
  }
  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& [name, s] : servers_) {
      if (s != nullptr) std::cerr << "--- server " << name << "\n" << s->Stderr();
    }
  }

  // Server `name` on the test's database, with its own signer state file
  // (servers on one machine must not share one).
  absl::StatusOr<std::unique_ptr<ServerProcess>> Spawn(const std::string& name,
                                                       const std::string& storage = "",
                                                       bool http = false) {
    ServerOptions o;
    o.storage = storage.empty() ? storage_ : storage;
    o.signing_key = key_.key_file;
    o.http_addr = http ? "127.0.0.1:0" : "";
    o.extra_args = {"--signer-state",           absl::StrCat(dir_->path(), "/", name, ".state"),
                    "--lease-ttl-ms",           absl::StrCat(LeaseTtlMs()),
                    "--checkpoint-interval-ms", "20"};
    return ServerProcess::Start(dir_->path(), o);
  }
  void StartServer(const std::string& name, const std::string& storage = "", bool http = false) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> s = Spawn(name, storage, http);
    ASSERT_TRUE(s.ok()) << s.status();
    servers_[name] = std::move(*s);
  }
  ServerProcess& server(const std::string& name) { return *servers_.at(name); }
  bool IsLeader(const std::string& name) {
    return ScrapeMetric(server(name).metrics_port(), "infratrail_leader") == 1;
  }
  // Adds `events` at `address` until accepted (following nothing: any
  // refusal retries, for up to `within`); the response.
  absl::StatusOr<v1::AddEventsResponse> AddUntilAccepted(const std::string& address,
                                                         const std::vector<std::string>& events,
                                                         absl::Duration within) {
    LogClient client(address);
    const absl::Time give_up = absl::Now() + within;
    grpc::Status last;
    while (absl::Now() < give_up) {
      v1::AddEventsResponse resp;
      last = client.AddEvents(events, /*wait_for_checkpoint=*/false, &resp);
      if (last.ok()) return resp;
      if (last.error_code() != grpc::StatusCode::UNAVAILABLE) return FromGrpc(last);
      absl::SleepFor(absl::Milliseconds(20));  // a retry pace, not a synchronisation
    }
    return FromGrpc(last);
  }

  std::unique_ptr<TempDir> dir_;
  LogKey key_;
  std::string storage_;
  std::string database_;
  std::map<std::string, std::unique_ptr<ServerProcess>> servers_;
};

TEST_F(HaTest, StandbyServesTheLeadersCheckpointAndRefusesWritesNamingTheLeader) {
  StartServer("a");
  StartServer("b", "", /*http=*/true);
  ASSERT_TRUE(IsLeader("a"));
  ASSERT_FALSE(IsLeader("b"));

  LogClient leader(server("a").address());
  absl::StatusOr<Checkpoint> cp = AddAndWaitForCheckpoint(leader, key_.verifier_key);
  ASSERT_TRUE(cp.ok()) << cp.status();

  LogClient standby(server("b").address());
  grpc::ClientContext ctx;
  standby.Prepare(&ctx);
  v1::AddEventsRequest req;
  req.add_entries()->set_data(MakeEvent());
  v1::AddEventsResponse resp;
  grpc::Status st = standby.stub().AddEvents(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(st.error_message(), server("a").address())) << st.error_message();
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find("infratrail-leader");
  ASSERT_NE(it, trailers.end()) << "no infratrail-leader trailer";
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), server("a").address());

  // The standby serves what the leader published (it rereads the database
  // every sixth of the lease): the same checkpoint, and proofs against it.
  std::string note;
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  absl::StatusOr<Checkpoint> seen = absl::NotFoundError("none");
  while (absl::Now() < give_up) {
    if (standby.GetCheckpoint(&note).ok()) {
      seen = OpenLogCheckpoint(note, key_.verifier_key);
      if (seen.ok() && seen->size >= cp->size) break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(seen.ok()) << seen.status();
  ASSERT_GE(seen->size, cp->size);
  v1::GetEntryAndProofRequest preq;
  preq.set_index(cp->size - 1);
  v1::GetEntryAndProofResponse presp;
  grpc::ClientContext pctx;
  standby.Prepare(&pctx);
  ASSERT_TRUE(standby.stub().GetEntryAndProof(&pctx, preq, &presp).ok());
  absl::StatusOr<Checkpoint> at = OpenLogCheckpoint(presp.checkpoint(), key_.verifier_key);
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_TRUE(VerifyEntryInclusion(*at, cp->size - 1, presp.entry().data(), presp.proof()).ok());
  // And over tiles HTTP: the same checkpoint note.
  absl::StatusOr<std::string> tiles_cp = HttpGet(server("b").http_port(), "/checkpoint");
  ASSERT_TRUE(tiles_cp.ok()) << tiles_cp.status();
  absl::StatusOr<Checkpoint> served = OpenLogCheckpoint(*tiles_cp, key_.verifier_key);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_GE(served->size, cp->size);
  EXPECT_EQ(ScrapeMetric(server("b").metrics_port(), "infratrail_leader"), 0);
  // Health: both serve the log; only the leader serves writes.
  HealthStatus status;
  ASSERT_TRUE(standby.CheckHealth("infratrail.v1.Log", &status).ok());
  EXPECT_EQ(status, HealthResponse::SERVING);
  ASSERT_TRUE(standby.CheckHealth("infratrail.v1.Log/leader", &status).ok());
  EXPECT_EQ(status, HealthResponse::NOT_SERVING);
  ASSERT_TRUE(leader.CheckHealth("infratrail.v1.Log/leader", &status).ok());
  EXPECT_EQ(status, HealthResponse::SERVING);
}

TEST_F(HaTest, TheCliGivenEveryServerFollowsTheLeaderFromAStandby) {
  StartServer("a");
  StartServer("b");
  ASSERT_TRUE(IsLeader("a"));
  // The standby first: it names a, which is listed, so the CLI follows.
  const std::string out = dir_->path() + "/cli.out";
  const std::string err = dir_->path() + "/cli.err";
  absl::StatusOr<int> rc = RunProgram(
      {INFRATRAIL_CLI_BIN, "add", "--server",
       absl::StrCat(server("b").address(), ",", server("a").address()), "--kind", "deploy",
       "--resource-id", "web-1", "--log-key", key_.verifier_key, "--wait", "--retry-for", "10s"},
      out, err);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0) << ReadFileOrEmpty(err);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(out), "\"index\":0")) << ReadFileOrEmpty(out);
  // Given only the standby, it does not go where it was not told.
  const std::string err2 = dir_->path() + "/cli2.err";
  rc = RunProgram({INFRATRAIL_CLI_BIN, "add", "--server", server("b").address(), "--kind", "deploy",
                   "--resource-id", "web-2", "--retry-for", "1s"},
                  out, err2);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 3);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(err2), server("a").address()))
      << ReadFileOrEmpty(err2);
}

TEST_F(HaTest, ADatabaseBehindWhatThisServerSignedIsRefused) {
  StartServer("a");
  {
    LogClient client(server("a").address());  // gone before the stop (no 5 s drain)
    ASSERT_TRUE(AddAndWaitForCheckpoint(client, key_.verifier_key).ok());
  }
  ASSERT_TRUE(server("a").Terminate().ok());
  // The same server (its signer state file) on an empty database, as if
  // the database had been restored from a copy older than what it signed.
  absl::StatusOr<std::string> older = Cluster()->CreateDatabase();
  ASSERT_TRUE(older.ok());
  absl::StatusOr<std::unique_ptr<ServerProcess>> s = Spawn("a", *older);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "status 2")) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), "smaller than the last signed checkpoint"))
      << s.status();
}

TEST_F(HaTest, AStoppedLeaderReleasesItsLease) {
  StartServer("a");
  StartServer("b");
  ASSERT_TRUE(IsLeader("a"));
  ASSERT_TRUE(AddUntilAccepted(server("a").address(), MakeEvents(3), absl::Seconds(5)).ok());
  const std::string a = server("a").address();
  absl::StatusOr<int> rc = server("a").Terminate();
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0);
  // Released, not left to lapse: expired already, or taken by b.
  absl::StatusOr<std::string> lease = Cluster()->Query(
      database_, absl::StrCat("SELECT CASE WHEN address <> '", a,
                              "' THEN 'taken' WHEN expires_at <= clock_timestamp() THEN 'released' "
                              "ELSE 'held' END FROM leader_lease"));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_NE(*lease, "held");
  absl::StatusOr<v1::AddEventsResponse> r =
      AddUntilAccepted(server("b").address(), MakeEvents(2), absl::Seconds(30));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->entries(0).index(), 3u);
  EXPECT_TRUE(IsLeader("b"));
}

// The acceptance test of issue #18: three servers, writers retrying
// across them, the leader killed at random 20 times.
TEST_F(HaTest, KillingTheLeaderTwentyTimesUnderLoadLosesAndForksNothing) {
  const std::vector<std::string> names = {"a", "b", "c"};
  for (const std::string& n : names) StartServer(n);

  struct Ack {
    std::string event;
    uint64_t index;
  };
  absl::Mutex mu;
  std::vector<Ack> acks;                  // guarded by mu
  std::vector<absl::Time> ack_times;      // guarded by mu
  std::set<std::string> notes;            // every checkpoint served; guarded by mu
  std::vector<std::string> addresses(3);  // guarded by mu (restarted servers move)
  for (size_t i = 0; i < names.size(); ++i) addresses[i] = server(names[i]).address();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> refused{0};

  auto writer = [&](int seed) {
    std::mt19937 rng(seed);
    size_t at = 0;
    while (!stop) {
      std::vector<std::string> batch = MakeEvents(20);
      // Retry the same bytes until acknowledged: a retry after a failover
      // may find them already in (a duplicate with the original index).
      while (!stop) {
        std::string address;
        {
          absl::MutexLock l(&mu);
          address = addresses[at % addresses.size()];
        }
        LogClient client(address);
        grpc::ClientContext ctx;
        client.Prepare(&ctx, absl::Seconds(5));
        v1::AddEventsRequest req;
        for (const std::string& e : batch) req.add_entries()->set_data(e);
        v1::AddEventsResponse resp;
        grpc::Status st = client.stub().AddEvents(&ctx, req, &resp);
        if (st.ok()) {
          absl::MutexLock l(&mu);
          for (int i = 0; i < resp.entries_size(); ++i) {
            acks.push_back({batch[i], resp.entries(i).index()});
          }
          ack_times.push_back(absl::Now());
          break;
        }
        ++refused;
        // Follow the leader a standby names, else try the next server.
        auto it = ctx.GetServerTrailingMetadata().find("infratrail-leader");
        bool followed = false;
        if (it != ctx.GetServerTrailingMetadata().end()) {
          const std::string leader(it->second.data(), it->second.size());
          absl::MutexLock l(&mu);
          for (size_t i = 0; i < addresses.size(); ++i) {
            if (addresses[i] == leader) {
              followed = at % addresses.size() != i;
              at = i;
            }
          }
        }
        if (!followed) {
          ++at;
          absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(5, 30)(rng)));
        }
      }
    }
  };
  // Every checkpoint any server serves, collected for the fork checks.
  auto reader = [&] {
    while (!stop) {
      std::vector<std::string> now;
      {
        absl::MutexLock l(&mu);
        now = addresses;
      }
      for (const std::string& a : now) {
        LogClient client(a);
        std::string note;
        if (client.GetCheckpoint(&note).ok()) {
          absl::MutexLock l(&mu);
          notes.insert(note);
        }
      }
      absl::SleepFor(absl::Milliseconds(25));
    }
  };
  std::vector<std::thread> threads;
  // Stops and joins them however the test ends (an ASSERT returns early).
  struct Joiner {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{stop, threads};
  threads.emplace_back(writer, 1);
  threads.emplace_back(writer, 2);
  threads.emplace_back(reader);

  auto acked = [&] {
    absl::MutexLock l(&mu);
    return ack_times.size();
  };
  std::vector<double> takeover_s;
  std::mt19937 rng(18);
  for (int round = 0; round < 20; ++round) {
    // Let the log take writes for a random while.
    const size_t before = acked();
    const absl::Time until =
        absl::Now() + absl::Milliseconds(std::uniform_int_distribution<int>(200, 800)(rng));
    while ((absl::Now() < until || acked() < before + 2) && !HasFailure()) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    std::string leader;
    for (const std::string& n : names) {
      if (IsLeader(n)) leader = n;
    }
    ASSERT_FALSE(leader.empty()) << "no leader in round " << round;
    const size_t acked_before_kill = acked();
    const absl::Time killed_at = absl::Now();
    ASSERT_TRUE(server(leader).Kill().ok());
    // Takeover: the first acknowledgement of a write after the kill.
    const absl::Time give_up = killed_at + absl::Seconds(30);
    while (acked() <= acked_before_kill && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_GT(acked(), acked_before_kill) << "no write accepted 30 s after killing " << leader;
    {
      absl::MutexLock l(&mu);
      auto first = std::upper_bound(ack_times.begin(), ack_times.end(), killed_at);
      if (first != ack_times.end()) takeover_s.push_back(absl::ToDoubleSeconds(*first - killed_at));
    }
    // Back as a standby (on a new port).
    servers_.erase(leader);
    StartServer(leader);
    const size_t i =
        static_cast<size_t>(std::find(names.begin(), names.end(), leader) - names.begin());
    absl::MutexLock l(&mu);
    addresses[i] = server(leader).address();
  }
  // One last round of writes on the survivors, then stop.
  const size_t last = acked();
  while (acked() < last + 5 && !HasFailure()) absl::SleepFor(absl::Milliseconds(10));
  stop = true;
  for (std::thread& t : threads) t.join();
  threads.clear();

  // Every acknowledged event is in the log once, at its index.
  std::string leader;
  for (const std::string& n : names) {
    if (IsLeader(n)) leader = n;
  }
  ASSERT_FALSE(leader.empty());
  LogClient client(server(leader).address());
  absl::StatusOr<Checkpoint> final_cp = AddAndWaitForCheckpoint(client, key_.verifier_key);
  ASSERT_TRUE(final_cp.ok()) << final_cp.status();
  std::vector<std::string> entries;
  ASSERT_TRUE(client.ReadRange(0, final_cp->size, &entries).ok());
  std::map<std::string, uint64_t> index_of;
  for (uint64_t i = 0; i < entries.size(); ++i) {
    ASSERT_TRUE(index_of.emplace(entries[i], i).second) << "entry " << i << " is in the log twice";
  }
  ASSERT_FALSE(acks.empty());
  for (const Ack& a : acks) {
    auto it = index_of.find(a.event);
    ASSERT_NE(it, index_of.end()) << "acknowledged event at " << a.index << " is lost";
    EXPECT_EQ(it->second, a.index) << "acknowledged event moved";
  }
  EXPECT_EQ(RootOfEntries(entries), final_cp->root);

  // Every checkpoint served verifies, no two of one size differ, and each
  // is a prefix of the final tree (so of every later one).
  std::map<uint64_t, Hash> roots;
  for (const std::string& note : notes) {
    absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, key_.verifier_key);
    ASSERT_TRUE(cp.ok()) << cp.status();
    auto [it, inserted] = roots.emplace(cp->size, cp->root);
    EXPECT_TRUE(inserted || it->second == cp->root) << "two checkpoints of size " << cp->size;
    ASSERT_LE(cp->size, entries.size());
    const std::vector<std::string> prefix(entries.begin(),
                                          entries.begin() + static_cast<ptrdiff_t>(cp->size));
    EXPECT_EQ(RootOfEntries(prefix), cp->root)
        << "checkpoint of size " << cp->size << " is not a prefix of the final tree";
  }
  EXPECT_GE(roots.size(), 20u);

  std::sort(takeover_s.begin(), takeover_s.end());
  ASSERT_EQ(takeover_s.size(), 20u);
  const double median = (takeover_s[9] + takeover_s[10]) / 2;
  std::cout << "takeover after kill -9 (lease " << LeaseTtlMs() << " ms), 20 kills: median "
            << median << " s, max " << takeover_s.back() << " s; " << acks.size()
            << " events acknowledged, " << refused.load() << " attempts refused, " << notes.size()
            << " distinct checkpoints served\n";
  RecordProperty("takeover_median_s", absl::StrCat(median));
  RecordProperty("takeover_max_s", absl::StrCat(takeover_s.back()));
}

TEST_F(HaTest, ADatabaseRestartFailsWritesUnavailableThenTheyResumeLosingNothing) {
  StartServer("a");
  ASSERT_TRUE(AddUntilAccepted(server("a").address(), MakeEvents(5), absl::Seconds(5)).ok());
  ASSERT_TRUE(Cluster()->Restart().ok());
  // Writes either succeed (a fresh connection) or fail UNAVAILABLE while
  // the server steps down and is elected again; never anything else.
  std::vector<std::pair<std::string, uint64_t>> acked;
  int unavailable = 0;
  LogClient client(server("a").address());
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (acked.size() < 50 && absl::Now() < give_up) {
    std::vector<std::string> batch = MakeEvents(5);
    for (;;) {
      v1::AddEventsResponse resp;
      grpc::Status st = client.AddEvents(batch, false, &resp);
      if (st.ok()) {
        for (int i = 0; i < resp.entries_size(); ++i)
          acked.emplace_back(batch[i], resp.entries(i).index());
        break;
      }
      ASSERT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
      ++unavailable;
      if (absl::Now() > give_up) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (acked.size() == 10) {
      // And once more under load.
      ASSERT_TRUE(Cluster()->Restart().ok());
    }
  }
  ASSERT_GE(acked.size(), 50u);
  absl::StatusOr<Checkpoint> cp = AddAndWaitForCheckpoint(client, key_.verifier_key);
  ASSERT_TRUE(cp.ok()) << cp.status();
  std::vector<std::string> entries;
  ASSERT_TRUE(client.ReadRange(0, cp->size, &entries).ok());
  for (const auto& [event, index] : acked) {
    ASSERT_LT(index, entries.size());
    EXPECT_EQ(entries[index], event);
  }
  EXPECT_EQ(RootOfEntries(entries), cp->root);
  std::cout << unavailable << " writes refused UNAVAILABLE across two database restarts\n";
}

TEST_F(HaTest, ATransactionFailingMidCommitIsRolledBackAndTheRetryLands) {
  StartServer("a");
  ASSERT_TRUE(AddUntilAccepted(server("a").address(), MakeEvents(3), absl::Seconds(5)).ok());
  // A fault after the head's update and the entries' insert, inside the
  // commit's transaction: one shot, counted by a sequence (sequences are
  // not rolled back with the transaction).
  absl::StatusOr<std::string> r = Cluster()->Query(database_, R"sql(
    CREATE SEQUENCE fault_shots;
    CREATE FUNCTION inject_fault() RETURNS trigger AS $$
    BEGIN
      IF nextval('fault_shots') = 1 THEN RAISE EXCEPTION 'injected fault'; END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER inject_fault AFTER INSERT ON leaf_index
      FOR EACH STATEMENT EXECUTE FUNCTION inject_fault();
  )sql");
  ASSERT_TRUE(r.ok()) << r.status();
  LogClient client(server("a").address());
  const std::vector<std::string> batch = MakeEvents(4);
  v1::AddEventsResponse resp;
  grpc::Status st = client.AddEvents(batch, false, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  // The server steps down, is elected again, and reopens the log from the
  // database: the retry is new (the failed transaction left nothing).
  absl::StatusOr<v1::AddEventsResponse> retried =
      AddUntilAccepted(server("a").address(), batch, absl::Seconds(10));
  ASSERT_TRUE(retried.ok()) << retried.status();
  for (int i = 0; i < retried->entries_size(); ++i) {
    EXPECT_FALSE(retried->entries(i).duplicate());
    EXPECT_EQ(retried->entries(i).index(), 3u + static_cast<uint64_t>(i));
  }
  absl::StatusOr<Checkpoint> cp = AddAndWaitForCheckpoint(client, key_.verifier_key);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 8u);
  EXPECT_EQ(ScrapeMetric(server("a").metrics_port(), "infratrail_leader_stepdowns_total"), 1);
  EXPECT_TRUE(absl::StrContains(server("a").Stderr(), "injected fault"));
}

TEST_F(HaTest, ALostCommitReplyIsAnsweredAsADuplicateOnRetry) {
  CommitReplyLosingProxy proxy(Cluster()->port());
  StartServer("a", absl::StrCat("postgresql://postgres@127.0.0.1:", proxy.port(), "/", database_,
                                "?sslmode=disable&gssencmode=disable"));
  ASSERT_TRUE(AddUntilAccepted(server("a").address(), MakeEvents(2), absl::Seconds(5)).ok());
  proxy.Arm();
  LogClient client(server("a").address());
  const std::vector<std::string> batch = MakeEvents(3);
  v1::AddEventsResponse resp;
  grpc::Status st = client.AddEvents(batch, false, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  ASSERT_TRUE(proxy.fired());
  // The batch is in (the COMMIT took effect); the retry says so.
  absl::StatusOr<v1::AddEventsResponse> retried =
      AddUntilAccepted(server("a").address(), batch, absl::Seconds(10));
  ASSERT_TRUE(retried.ok()) << retried.status();
  for (int i = 0; i < retried->entries_size(); ++i) {
    EXPECT_TRUE(retried->entries(i).duplicate()) << i;
    EXPECT_EQ(retried->entries(i).index(), 2u + static_cast<uint64_t>(i));
  }
  absl::StatusOr<Checkpoint> cp = AddAndWaitForCheckpoint(client, key_.verifier_key);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 6u);
}

}  // namespace
}  // namespace infratrail::testing
