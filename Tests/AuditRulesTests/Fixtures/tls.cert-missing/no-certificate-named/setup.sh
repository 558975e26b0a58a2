#!/bin/sh
# The fixture's CA, like every certificate fixture; the server names no certificate at all.
set -e
. "$ORIGINAUDIT_REPO/Tests/AuditRulesTests/Fixtures/_lib/certificates.sh"
cd ..
# Only the root stays (it is the --ca-file): the rest of the CA's work is not an input.
find pki -type f ! -name root.pem -delete
