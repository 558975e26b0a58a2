/* A stand-in for mod_cloudflare (not the module): it declares the directives mod_cloudflare
 * documents, with their arguments and contexts, so that `apache2 -t` judges a configuration that
 * uses them. It restores nothing. Written for originaudit's tests. */
#include "httpd.h"
#include "http_config.h"

static const char *take_header(cmd_parms *cmd, void *config, const char *header) { return NULL; }
static const char *take_proxy(cmd_parms *cmd, void *config, const char *address) { return NULL; }
static const char *take_flag(cmd_parms *cmd, void *config) { return NULL; }

static const command_rec standin_commands[] = {
    AP_INIT_TAKE1("CloudFlareRemoteIPHeader", take_header, NULL, RSRC_CONF, "the header holding the visitor's address"),
    AP_INIT_ITERATE("CloudFlareRemoteIPTrustedProxy", take_proxy, NULL, RSRC_CONF, "more trusted proxies"),
    AP_INIT_NO_ARGS("DenyAllButCloudFlare", take_flag, NULL, RSRC_CONF | ACCESS_CONF, "refuse requests not from the CDN"),
    {NULL}
};

AP_DECLARE_MODULE(cloudflare) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, standin_commands, NULL
};
