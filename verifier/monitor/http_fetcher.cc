// placeholder until the implementation lands
#include "verifier/monitor/http_fetcher.h"
