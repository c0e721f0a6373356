#include "verifier/monitor/http_fetcher.h"
#include <gtest/gtest.h>
