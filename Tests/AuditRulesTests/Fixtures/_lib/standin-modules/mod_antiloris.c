/* A stand-in for mod_antiloris (not the module): it declares the directives mod_antiloris
 * documents, with their arguments and contexts, so that `apache2 -t` judges a configuration that
 * uses them. It limits nothing. Written for originaudit's tests. */
#include "httpd.h"
#include "http_config.h"
#include "apr_strings.h"

static const char *take_limit(cmd_parms *cmd, void *config, const char *value) {
    const char *error = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (error) return error;
    for (const char *c = value; *c; c++) {
        if (*c < '0' || *c > '9') return apr_psprintf(cmd->pool, "%s takes a whole number", cmd->cmd->name);
    }
    return NULL;
}

static const char *take_addresses(cmd_parms *cmd, void *config, const char *address) {
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

static const command_rec standin_commands[] = {
    AP_INIT_TAKE1("IPReadLimit", take_limit, NULL, RSRC_CONF, "connections in the READ state per address"),
    AP_INIT_TAKE1("IPWriteLimit", take_limit, NULL, RSRC_CONF, "connections in the WRITE state per address"),
    AP_INIT_TAKE1("IPOtherLimit", take_limit, NULL, RSRC_CONF, "connections in other states per address"),
    AP_INIT_TAKE1("IPTotalLimit", take_limit, NULL, RSRC_CONF, "connections in all states per address"),
    AP_INIT_ITERATE("ExemptIPs", take_addresses, NULL, RSRC_CONF, "addresses and ranges without limits"),
    AP_INIT_ITERATE("WhitelistIPs", take_addresses, NULL, RSRC_CONF, "older name of ExemptIPs"),
    AP_INIT_ITERATE("LocalIPs", take_addresses, NULL, RSRC_CONF, "older name of ExemptIPs"),
    {NULL}
};

AP_DECLARE_MODULE(antiloris) = {
    STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, standin_commands, NULL
};
