// A self-check of core/ that needs no network or files: known answers from
// RFC 6962 / RFC 9162, a sign/open round trip and a receipt round trip.
#ifndef INFRATRAIL_VERIFIER_SELFCHECK_H_
#define INFRATRAIL_VERIFIER_SELFCHECK_H_

#include <ostream>

namespace infratrail {

// Prints one line per check to `out`; returns true iff all pass.
bool RunSelfCheck(std::ostream& out);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_SELFCHECK_H_
