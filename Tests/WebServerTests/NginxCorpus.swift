/// Configurations written for the differential tests, one lexer or include corner each. Every one
/// is valid for crossplane; all but the Lua ones are valid for the real nginx too (checked).
enum NginxCorpus {
    static let events = "events { worker_connections 64; }\n"

    static func site(_ body: String) -> String { events + "http {\n" + body + "\n}\n" }

    static let fixtures: [NginxFixture] = [
        NginxFixture(name: "minimal", files: ["nginx.conf": site("server { listen 127.0.0.1:18001; }")]),
        NginxFixture(name: "comments", files: ["nginx.conf": site("""
            # a comment with { braces } ; and "quotes" and 'single'
            server { # trailing comment
                listen 127.0.0.1:18002; # after a directive
                server_name a#b.example; #no space
                return 200 "x # not a comment";
            }
            #last
            """)]),
        NginxFixture(name: "double-quotes", files: ["nginx.conf": site(#"""
            server {
                listen "127.0.0.1:18003";
                add_header X-A "a; b { c } d";
                add_header X-B "line
            two";
                return 200 "semi;colon";
            }
            """#)]),
        NginxFixture(name: "single-quotes", files: ["nginx.conf": site(#"""
            server {
                listen '127.0.0.1:18004';
                add_header 'X-A' 'a; b { } "q"';
                return 200 'single "double" inside';
            }
            """#)]),
        NginxFixture(name: "escaped-quotes", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18005;
                add_header X-A "say \"hi\"";
                add_header X-B 'it\'s';
                return 200 "tab\there\\";
            }
            """#)]),
        NginxFixture(name: "escapes-outside-quotes", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18006;
                add_header X-A a\;b;
                add_header X-B a\ b;
                add_header X-C \"quoted\";
                return 200 a\{b;
            }
            """#)]),
        NginxFixture(name: "variables", files: ["nginx.conf": site(#"""
            map $http_host $name_of_host { default "x"; }
            server {
                listen 127.0.0.1:18007;
                set $a "1";
                set $b ${a}suffix;
                add_header X-A $a$b;
                add_header X-B "${a} and ${b}";
                return 200 $scheme://$host${request_uri};
            }
            """#)]),
        NginxFixture(name: "crlf", files: ["nginx.conf": site("server {\r\n    listen 127.0.0.1:18008;\r\n    # comment\r\n    server_name crlf.example;\r\n    return 200 \"crlf\";\r\n}\r\n")]),
        NginxFixture(name: "utf8", files: ["nginx.conf": site("""
            # commentaire: élève, 日本語, emoji 🚀
            server {
                listen 127.0.0.1:18009;
                server_name xn--bcher-kva.example bücher.example;
                add_header X-Text "naïve café ☕";
                return 200 '日本語 🚀';
            }
            """)]),
        NginxFixture(name: "multiline-args", files: ["nginx.conf": site("""
            log_format main
                '$remote_addr - $remote_user [$time_local] '
                '"$request" $status $body_bytes_sent'
                ;
            server {
                listen
                    127.0.0.1:18010
                    default_server;
                server_name
                    a.example
                    b.example;
            }
            """)]),
        NginxFixture(name: "empty-strings", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18011;
                server_name "";
                add_header X-Empty '' always;
                return 200 "";
            }
            """#)]),
        NginxFixture(name: "quoted-directive-name", files: ["nginx.conf": site(#"""
            server {
                "listen" 127.0.0.1:18012;
                'server_name' quoted.example;
            }
            """#)]),
        NginxFixture(name: "nested-locations-and-if", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18013;
                if ($scheme = http) { return 301 https://$host$request_uri; }
                if ( $http_x_a = "b" ) { return 403; }
                location / {
                    location /inner { return 204; }
                    if ($request_method ~* "^(PUT|DELETE)$") { return 405; }
                    if (-f $request_filename) { break; }
                    if ($http_x_b) { return 400; }
                    if ($arg_x !~ ^abc) { return 406; }
                }
            }
            """#)]),
        NginxFixture(name: "map-block", files: ["nginx.conf": site(#"""
            map $http_upgrade $connection_upgrade {
                hostnames;
                default upgrade;
                ''      close;
                ~^web   "web socket";
            }
            server { listen 127.0.0.1:18014; add_header X-U $connection_upgrade; }
            """#)]),
        NginxFixture(name: "types-block", files: ["nginx.conf": site("""
            types {
                text/html html htm;
                application/json json;
                image/svg+xml svg svgz;
            }
            default_type application/octet-stream;
            server { listen 127.0.0.1:18015; }
            """)]),
        NginxFixture(name: "upstream-block", files: ["nginx.conf": site("""
            upstream backend {
                server 127.0.0.1:9001 weight=5;
                server 127.0.0.1:9002 max_fails=3 fail_timeout=30s;
                server unix:/tmp/backend.sock backup;
                keepalive 16;
            }
            server { listen 127.0.0.1:18016; location / { proxy_pass http://backend; } }
            """)]),
        NginxFixture(name: "geo-block", files: ["nginx.conf": site("""
            geo $limited {
                default 1;
                127.0.0.1/32 0;
                192.0.2.0/24 0;
                2001:db8::/32 0;
            }
            server { listen 127.0.0.1:18017; }
            """)]),
        NginxFixture(name: "lua-blocks", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18018;
                location /lua {
                    content_by_lua_block {
                        local t = { a = "}", b = '{' }  -- a } in a comment
                        if t.a == "}" then ngx.say("ok {") end
                    }
                }
                location /set {
                    set_by_lua_block $res { return 32 + math.cos(32) }
                    access_by_lua_block { ngx.var.x = "\"}\"" }
                }
            }
            """#)], nginxAccepts: false),
        NginxFixture(name: "include-glob-order", files: [
            "nginx.conf": site("include conf.d/*.conf;"),
            "conf.d/10-a.conf": "server { listen 127.0.0.1:18019; server_name ten.example; }\n",
            "conf.d/9-b.conf": "server { listen 127.0.0.1:18019; server_name nine.example; }\n",
            "conf.d/A.conf": "server { listen 127.0.0.1:18019; server_name upper.example; }\n",
            "conf.d/a.conf": "server { listen 127.0.0.1:18019; server_name lower.example; }\n",
            "conf.d/_x.conf": "server { listen 127.0.0.1:18019; server_name under.example; }\n",
            "conf.d/.hidden.conf": "this is not read;\n",
            "conf.d/readme.txt": "neither is this;\n",
        ]),
        NginxFixture(name: "include-relative-and-absolute", files: [
            "nginx.conf": site("include snippets/common.conf;\ninclude {{DIR}}/abs/site.conf;"),
            "snippets/common.conf": "sendfile on;\ntcp_nopush on;\n",
            "abs/site.conf": "server {\n    listen 127.0.0.1:18020;\n    include snippets/headers.conf;\n}\n",
            "snippets/headers.conf": "add_header X-Frame-Options DENY;\n",
        ]),
        NginxFixture(name: "include-two-contexts", files: [
            "nginx.conf": site("""
                include shared.conf;
                server { listen 127.0.0.1:18021; include shared.conf; }
                server { listen 127.0.0.1:18022; include shared.conf; }
                """),
            "shared.conf": "add_header X-Shared yes;\n",
        ]),
        NginxFixture(name: "include-nested-and-empty", files: [
            "nginx.conf": site("include level1.conf;\ninclude nothing/*.conf;\ninclude empty.conf;\ninclude comments-only.conf;"),
            "level1.conf": "include level2.conf;\nserver { listen 127.0.0.1:18023; include level2-server.conf; }\n",
            "level2.conf": "keepalive_timeout 30s;\n",
            "level2-server.conf": "location / { return 204; }\n",
            "empty.conf": "",
            "comments-only.conf": "# nothing here\n# at all\n",
        ]),
        NginxFixture(name: "include-glob-subdirectories", files: [
            "nginx.conf": site("include sites/*/site.conf;"),
            "sites/b/site.conf": "server { listen 127.0.0.1:18024; server_name b.example; }\n",
            "sites/b-c/site.conf": "server { listen 127.0.0.1:18024; server_name bc.example; }\n",
            "sites/a/site.conf": "server { listen 127.0.0.1:18024; server_name a.example; }\n",
        ]),
        NginxFixture(name: "long-token", files: ["nginx.conf": site("""
            server {
                listen 127.0.0.1:18025;
                add_header X-Long "\(String(repeating: "x", count: 3000))";
                return 200 \(String(repeating: "y", count: 4000));
            }
            """)]),
        NginxFixture(name: "whitespace-and-no-final-newline", files: ["nginx.conf": events + "http {\n\tserver\t{\n\t\tlisten\t \t127.0.0.1:18026 ;\n   }\n}"]),
        NginxFixture(name: "no-spaces", files: ["nginx.conf": events + "http{server{listen 127.0.0.1:18027;location /{return 204;}location = /x{return 200 \"x\";}}}"]),
        NginxFixture(name: "quote-then-terminator", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18028;
                location "/a"{ return 200 "a";}
                location '/b' { return 200 'b' ;}
                if ($http_x = "y") { return 403; }
            }
            """#)]),
        NginxFixture(name: "comments-between-args", files: ["nginx.conf": site("""
            server {
                listen 127.0.0.1:18029 # the port
                    default_server; # the default
                server_name # names follow
                    c.example;
            }
            """)]),
        NginxFixture(name: "stream-and-mail", files: ["nginx.conf": events + """
            stream {
                upstream db { server 127.0.0.1:5432; }
                server { listen 127.0.0.1:18030; proxy_pass db; proxy_timeout 10m; }
            }
            """ + "\n", "unused.conf": ""], nginxAccepts: false),
        NginxFixture(name: "realistic-site", files: [
            "nginx.conf": """
                user www-data;
                worker_processes auto;
                \(events)
                http {
                    include mime.types;
                    default_type application/octet-stream;
                    log_format cf '$http_cf_connecting_ip - $remote_user [$time_local] "$request"';
                    limit_req_zone $binary_remote_addr zone=perip:10m rate=10r/s;
                    limit_conn_zone $binary_remote_addr zone=addr:10m;
                    set_real_ip_from 173.245.48.0/20;
                    set_real_ip_from 2400:cb00::/32;
                    real_ip_header CF-Connecting-IP;
                    real_ip_recursive on;
                    keepalive_timeout 65;
                    include sites-enabled/*;
                }
                """,
            "mime.types": "types {\n    text/html html;\n    text/css css;\n}\n",
            "sites-enabled/example": """
                server {
                    listen 127.0.0.1:18031;
                    listen [::1]:18031;
                    server_name example.com www.example.com;
                    return 301 https://$host$request_uri;
                }
                server {
                    listen 127.0.0.1:18032 ssl http2;
                    server_name example.com;
                    ssl_certificate {{DIR}}/cert.pem;
                    ssl_certificate_key {{DIR}}/key.pem;
                    ssl_protocols TLSv1.2 TLSv1.3;
                    ssl_ciphers HIGH:!aNULL:!MD5;
                    location / {
                        limit_req zone=perip burst=20 nodelay;
                        limit_conn addr 10;
                        proxy_pass http://127.0.0.1:8080;
                        proxy_read_timeout 300s;
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    }
                    location /admin {
                        allow 10.0.0.0/8;
                        allow 2001:db8::/32;
                        deny all;
                        proxy_pass http://127.0.0.1:8081;
                    }
                    location ~ \\.php$ {
                        include fastcgi_params;
                        fastcgi_pass unix:/run/php/php-fpm.sock;
                        fastcgi_read_timeout 120;
                    }
                }

                """,
            "fastcgi_params": "fastcgi_param QUERY_STRING $query_string;\nfastcgi_param REQUEST_METHOD $request_method;\n",
        ]),
        NginxFixture(name: "regex-locations", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18033;
                location ~ ^/x(a|b)$ { return 200; }
                location ~* "^/y{2,3}$" { return 201; }
                location ^~ /static/ { return 202; }
                location = /exact { return 203; }
                location ~ /\.ht { deny all; }
            }
            """#)]),
        NginxFixture(name: "rewrite-and-return-forms", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18034;
                rewrite ^/old/(.*)$ https://example.com/new/$1 permanent;
                rewrite ^/tmp/(.*)$ /new/$1 redirect;
                rewrite "^/q/(\d{2})$" /n/$1 last;
                location /r { return 302 "https://example.com/r"; }
                location /s { return https://example.com/s; }
                error_page 404 = @fallback;
                location @fallback { return 404 "not here"; }
            }
            """#)]),
        NginxFixture(name: "headers-with-semicolons", files: ["nginx.conf": site(#"""
            server {
                listen 127.0.0.1:18035;
                add_header Strict-Transport-Security "max-age=31536000; includeSubDomains; preload" always;
                add_header Content-Security-Policy "default-src 'self'; script-src 'self' 'unsafe-inline'";
            }
            """#)]),
        NginxFixture(name: "limit-except-and-access", files: ["nginx.conf": site("""
            allow 127.0.0.1;
            deny all;
            server {
                listen 127.0.0.1:18036;
                location /upload {
                    limit_except GET HEAD {
                        allow 192.0.2.0/24;
                        deny all;
                    }
                }
            }
            """)]),
        NginxFixture(name: "backslash-before-newline", files: ["nginx.conf": site("server {\n    listen 127.0.0.1:18037;\n    add_header X-A a\\\nb;\n    return 204;\n}")]),
        NginxFixture(name: "many-servers", files: ["nginx.conf": site((0..<40).map {
            "server { listen 127.0.0.1:\(18100 + $0); server_name s\($0).example; location / { return 200 \"s\($0)\"; } }"
        }.joined(separator: "\n"))]),
    ]
}
