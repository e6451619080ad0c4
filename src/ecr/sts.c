/*
 * STS GetCallerIdentity, the one STS call scripts make of a registry endpoint
 * (`aws sts get-caller-identity --query Account`): the query protocol, answered in XML.
 */
#include <stdlib.h>
#include <string.h>

#include "ecr/ecr.h"

#define STS_NS "https://sts.amazonaws.com/doc/2011-06-15/"

/* Is `key=value` one of the form fields of body? (No decoding needed for these values.) */
static int has_field(const char *body, size_t len, const char *field)
{
    size_t fl = strlen(field);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);
        if (n == fl && memcmp(p, field, fl) == 0)
            return 1;
        p += n + 1;
    }
    return 0;
}

static void sts_error(struct berth_req *req, int status, const char *code, const char *msg)
{
    char *xml = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&xml, &len);
    if (!f) {
        berth_req_respond(req, 500, NULL, NULL, 0);
        return;
    }
    /* The message is ours (no client input in it) and free of XML metacharacters. */
    fprintf(f,
            "<ErrorResponse xmlns=\"" STS_NS "\"><Error><Type>Sender</Type><Code>%s</Code>"
            "<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>",
            code, msg, req->id);
    fclose(f);
    berth_req_respond_owned(req, status, "text/xml", xml, len);
}

void ecr_sts(struct berth_req *req, struct berth_ecr_ctx *ctx)
{
    const char *body = req->body.data ? req->body.data : "";
    size_t len = req->body.len;
    if (!has_field(body, len, "Action=GetCallerIdentity")) {
        sts_error(req, 400, "InvalidAction",
                  "Berth answers only the ECR API (X-Amz-Target) and STS GetCallerIdentity");
        return;
    }
    struct ecr_call c = {.req = req, .ctx = ctx, .op = "GetCallerIdentity"};
    if (ecr_authenticate(&c, "sts") < 0) {
        const char *code = strcmp(c.err_type, "UnrecognizedClientException") == 0
                               ? "InvalidClientTokenId"
                           : strcmp(c.err_type, "MissingAuthenticationTokenException") == 0
                               ? "MissingAuthenticationToken"
                               : "SignatureDoesNotMatch";
        sts_error(req, 403, code,
                  strcmp(code, "InvalidClientTokenId") == 0
                      ? "The security token included in the request is invalid."
                      : "The request signature does not match or has expired.");
        return;
    }
    /* AWS reports the account id as the root user's UserId, a unique id for IAM users (Berth
     * uses the access key id: stable, unique and not secret). */
    const char *user_id = c.who.is_admin || !c.who.key_id[0] ? c.who.account : c.who.key_id;
    char *xml = NULL;
    size_t xlen = 0;
    FILE *f = open_memstream(&xml, &xlen);
    if (!f) {
        berth_req_respond(req, 500, NULL, NULL, 0);
        return;
    }
    /* ARNs, key ids and account ids are [A-Za-z0-9:/_+=,.@-]: nothing to escape. */
    fprintf(f,
            "<GetCallerIdentityResponse xmlns=\"" STS_NS "\"><GetCallerIdentityResult>"
            "<Arn>%s</Arn><UserId>%s</UserId><Account>%s</Account></GetCallerIdentityResult>"
            "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>"
            "</GetCallerIdentityResponse>",
            c.who.arn, user_id, c.who.account, req->id);
    fclose(f);
    berth_req_respond_owned(req, 200, "text/xml", xml, xlen);
}
