// The Kubernetes audit webhook of `infratrail ingest k8s-audit --listen`
// (docs/ingest.md, "The webhook"). The API server's webhook backend POSTs
// EventLists; each POST is mapped, filtered, signed and added to the log, and
// answered 200 only once every event of it is durable (with --wait, covered
// by a verified checkpoint). A log that cannot be reached, or a busy
// webhook, is answered 503 so the API server retries; re-sent events are
// duplicates, never logged twice. A body that is not an EventList is 400.
//
// Bounds: bodies up to --max-body-bytes (413 beyond), --workers POSTs
// processed at once and as many waiting (503 Retry-After beyond), and the
// transport's connection caps and deadlines (core/http/http_server.h).
#ifndef INFRATRAIL_CLIENT_INGEST_WEBHOOK_H_
#define INFRATRAIL_CLIENT_INGEST_WEBHOOK_H_

#include <ostream>
#include <vector>

#include "client/ingest/filter.h"
#include "client/ingest/mapping.h"
#include "client/ingest_command.h"
#include "client/log_client.h"
#include "core/note_key.h"

namespace infratrail::cli {

struct WebhookConfig {
  const IngestArgs* args = nullptr;
  const ingest::Mapper* mapper = nullptr;
  const ingest::EventFilter* filter = nullptr;
  const std::vector<NoteSigner>* signers = nullptr;
  LogClient* client = nullptr;  // null with --dry-run
};

// Serves until SIGINT or SIGTERM; returns the exit code (2 when it cannot
// listen).
int RunWebhook(const WebhookConfig& config, std::ostream& out, std::ostream& err);

}  // namespace infratrail::cli

#endif  // INFRATRAIL_CLIENT_INGEST_WEBHOOK_H_
