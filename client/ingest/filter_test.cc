#include "client/ingest/filter.h"
