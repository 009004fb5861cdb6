// The embedded page: every file is served with its type, "/" is the page, nothing else is, and
// the page loads nothing from outside the console (no CDN, no external URL).
#include "web/assets.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(WebAssets, RootIsTheHtmlPage) {
    const auto root = console::web_asset("/");
    ASSERT_TRUE(root.has_value());
    EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(root->content.substr(0, 15), "<!doctype html>");
    EXPECT_NE(root->content.find("<script src=\"/app.js\">"), std::string_view::npos);
    // The page ends with its closing tag: the embedding kept the whole file.
    EXPECT_NE(root->content.find("</html>"), std::string_view::npos);
    EXPECT_EQ(root->content.back(), '\n');
}

TEST(WebAssets, ScriptsAndStyleHaveTheirTypes) {
    for (const char* path : {"/app.js", "/lib.js"}) {
        const auto js = console::web_asset(path);
        ASSERT_TRUE(js.has_value()) << path;
        EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
        EXPECT_NE(js->content.find("'use strict';"), std::string_view::npos);
    }
    const auto css = console::web_asset("/style.css");
    ASSERT_TRUE(css.has_value());
    EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
}

TEST(WebAssets, UnknownPathsAreNotServed) {
    for (const char* path :
         {"", "/nope.js", "app.js", "/app.js/", "/../app.js", "/style.css?x=1"}) {
        EXPECT_FALSE(console::web_asset(path).has_value()) << path;
    }
}

TEST(WebAssets, NothingIsLoadedFromOutside) {
    for (const char* path : {"/", "/app.js", "/lib.js", "/style.css"}) {
        const auto a = console::web_asset(path);
        ASSERT_TRUE(a.has_value()) << path;
        const std::string text(a->content);
        for (const char* bad : {"src=\"http", "href=\"http", "url(http", "@import", "//cdn"}) {
            EXPECT_EQ(text.find(bad), std::string::npos) << path << " contains " << bad;
        }
        // Device-provided text must never reach the HTML parser.
        EXPECT_EQ(text.find("innerHTML"), std::string::npos) << path;
        EXPECT_EQ(text.find("insertAdjacentHTML"), std::string::npos) << path;
    }
}

}  // namespace
