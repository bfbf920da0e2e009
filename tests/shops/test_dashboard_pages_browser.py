"""The dashboard's Recommendations, Rules and Experiments pages in real headless Chromium: their
forms and buttons used as a merchant would, the storefront following a pin, the rule form's
fields following its kind, confirm dialogs, inline errors, keyboard use, a WCAG audit of each
page and screenshots in test-artifacts/."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from recommendations.models import Experiment, MerchantRule, RecommendationList
from shops.dashboard.access import dashboard_link_create
from shops.models import OrderLine, Product
from shops.tenancy import shop_scope
from tests.browser import ARTIFACTS, off_the_browser_loop
from tests.conftest import CHROMIUM
from tests.recommendations.test_widget import CHROMIUM_ARGS, WCAG_21_AA
from tests.shops.dashboard_fixtures import trained_demo_shop

# Chromium logs a form's 400 answer once for the document; a refused form may leave exactly that.
REFUSED_FORM_LOG = "Failed to load resource: the server responded with a status of 400 (Bad Request)"


class Chromium:
    """Headless Chromium whose pages record console errors and every URL they request."""

    def __init__(self, playwright, origin: str) -> None:
        self.origin = origin
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.accept_dialogs = False
        self.page = self.new_page()

    def new_page(self):
        """A page in a context of its own (its own cookies and HTTP cache)."""
        page = self.browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
        page.on("console", lambda message: self.problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", self._answer)
        return page

    def enter(self, shop) -> None:
        token = dashboard_link_create(shop_id=shop.pk).split("token=", 1)[1]
        self.page.goto(f"{self.origin}/dashboard/enter?token={token}")
        assert self.page.url == f"{self.origin}/dashboard/"

    def answer_dialogs(self, *, accept: bool) -> None:
        """How the next confirm dialogs are answered (dismissed until told otherwise)."""
        self.accept_dialogs = accept

    def _answer(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        if self.accept_dialogs:
            dialog.accept()
        else:
            dialog.dismiss()

    def audit(self, axe, name: str) -> None:
        """A full-page screenshot, then the WCAG audit."""
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
        self.check_wcag(axe, name)

    def check_wcag(self, axe, name: str) -> None:
        results = axe.run(self.page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, f"{name}:\n{results.generate_snapshot()}"
        assert results.response["passes"], name  # the audit really ran

    def tab_to(self, predicate: str, *, limit: int = 80) -> None:
        """Press Tab until the focused element satisfies a JavaScript predicate on `element`."""
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            if self.page.evaluate(f"(element => {predicate})(document.activeElement)"):
                return
        raise AssertionError(f"never reached {predicate} with the keyboard")

    def assert_clean(self, *, refused_forms: int = 0) -> None:
        assert self.problems == [REFUSED_FORM_LOG] * refused_forms, self.problems
        assert all(url.startswith(self.origin + "/") or url.startswith("data:") for url in self.requests), [
            url for url in self.requests if not url.startswith(self.origin)
        ]


@pytest.fixture
def browser_api():
    return (
        pytest.importorskip("playwright.sync_api"),
        pytest.importorskip("axe_playwright_python.sync_playwright").Axe(),
    )


def rules_of(shop) -> list[MerchantRule]:
    with shop_scope(shop):
        return list(MerchantRule.objects.order_by("position", "pk"))


def _only_match(word_source: str, titles: list[str]) -> str:
    """A word of a title that no other title contains."""
    for word in sorted(word_source.split(), key=len, reverse=True):
        if sum(word.lower() in title.lower() for title in titles) == 1:
            return word.lower()
    return word_source


# PostgreSQL: the live server answers the pages and the widget's requests from several threads.
@pytest.mark.services("postgres", "chromium")
def test_recommendations_page_finds_a_product_pins_an_item_and_previews_a_customer(
    live_server, transactional_db, settings, browser_api
):
    playwright_api, axe = browser_api
    settings.DEMO_STOREFRONT = True
    shop, demo = trained_demo_shop("dash-recs-browser.localhost", seed=6)
    with shop_scope(shop):
        sellable = set(Product.objects.filter(status="published", in_stock=True).values_list("external_id", flat=True))
        titles = dict(Product.objects.values_list("external_id", "title"))
    anchor, partner = next((a, b) for a, b in demo.complementary_pairs if {a, b} <= sellable)
    word = _only_match(titles[anchor], list(titles.values()))
    customer = Counter(order.customer_id for order in demo.orders if order.customer_id).most_common(1)[0][0]
    with shop_scope(shop):
        bought = set(
            OrderLine.objects.filter(order__customer_ref=shop.customer_ref(customer)).values_list(
                "product__external_id", flat=True
            )
        )

    with playwright_api.sync_playwright() as playwright:
        chromium = Chromium(playwright, live_server.url)
        page = chromium.page
        chromium.enter(shop)
        page.get_by_role("link", name="Recommendations").click()
        page.wait_for_url(f"{live_server.url}/dashboard/recommendations")
        assert page.locator("h1").inner_text() == "Recommendations"

        # Search by keyboard: type a word of the title, Tab to the button, press Enter.
        chromium.tab_to("element.id === 'q'")
        page.keyboard.type(word)
        chromium.tab_to("element.textContent === 'Search'")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/dashboard/recommendations?q={word}")
        results = page.locator("ul.results li a")
        assert results.all_inner_texts() == [titles[anchor]]

        results.first.click()
        page.wait_for_url(f"**/dashboard/recommendations?product={anchor}")
        assert page.locator("#product-heading").inner_text() == f"{titles[anchor]} (id {anchor})"
        assert page.locator("#list-bought_together").inner_text() == "Frequently bought together"
        together = page.locator('ol[aria-labelledby="list-bought_together"] > li')
        assert together.count() >= 2
        assert titles[partner] in together.locator("strong").all_inner_texts()[:5]
        explanations = together.locator(".why").all_inner_texts()
        assert len(explanations) == together.count() and all(text.strip() for text in explanations)
        related = page.locator('ol[aria-labelledby="list-related"] > li')
        assert related.count() >= 3
        last_id = related.last.locator(".muted").inner_text().split("id ", 1)[1].split(",", 1)[0]
        assert last_id != related.first.locator(".muted").inner_text().split("id ", 1)[1].split(",", 1)[0]
        chromium.audit(axe, "recommendations")

        # The storefront before the pin, seen by another visitor (its own HTTP cache).
        visitor = chromium.new_page()
        visitor.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
        storefront_related = visitor.locator('[data-basketry="related"] section li')
        storefront_related.first.wait_for()
        assert storefront_related.first.locator("a span").inner_text() != titles[last_id]

        related.last.locator("button", has_text="Pin first").click()
        page.wait_for_url(f"**/dashboard/recommendations?product={anchor}&done=pinned")
        assert page.get_by_role("status").inner_text().startswith("Pinned: it now leads this list on the storefront.")
        assert related.first.locator("strong").inner_text() == titles[last_id]
        assert related.first.locator("button", has_text="Pin first").count() == 0  # already pinned
        (rule,) = off_the_browser_loop(lambda: rules_of(shop))
        assert (rule.kind, rule.list_kinds) == ("pin", ["related"])

        # The storefront shows the pin at once, to a visitor who has not seen the page before.
        page.goto(f"{live_server.url}/demo/{shop.domain}/products/{anchor}")
        first_card = page.locator('[data-basketry="related"] section li').first
        first_card.wait_for()
        assert first_card.locator("a span").inner_text() == titles[last_id]
        assert page.locator('[data-basketry="related"] h2').is_visible()

        # A customer's personal picks leave out what they bought.
        page.goto(f"{live_server.url}/dashboard/recommendations?product={anchor}")
        page.get_by_label("Customer id in your store").fill(customer)
        chromium.tab_to("element.textContent === 'Preview'")
        page.keyboard.press("Space")
        page.wait_for_url(f"**/dashboard/recommendations?product={anchor}&customer={customer}")
        section = page.locator('section[aria-labelledby="customer-heading"]')
        plural = "" if len(bought) == 1 else "s"
        assert f"This customer bought {len(bought)} product{plural}; those are left out." in section.inner_text()
        picks = section.locator("ol.preview-list > li")
        assert picks.count() > 0
        shown = {text.removeprefix("id ") for text in picks.locator(".muted").all_inner_texts()}
        assert shown and not shown & bought
        assert all(text.strip() for text in picks.locator(".why").all_inner_texts())
        assert page.get_by_label("Customer id in your store").input_value() == customer
        assert page.locator("#product-heading").is_visible()  # the product stays open beside it

        chromium.assert_clean()
        chromium.browser.close()


@pytest.mark.services("postgres", "chromium")
def test_rules_are_created_previewed_switched_off_and_deleted_in_the_browser(
    live_server, transactional_db, browser_api
):
    playwright_api, axe = browser_api
    shop, _ = trained_demo_shop("dash-rules-browser.localhost", seed=6)
    with shop_scope(shop):
        counts = Counter(
            item["product_id"]
            for items in RecommendationList.objects.filter(kind="related").values_list("items", flat=True)
            for item in items[:8]
        )
        popular = Product.objects.get(pk=counts.most_common(1)[0][0])

    def rules() -> list[MerchantRule]:
        return off_the_browser_loop(lambda: rules_of(shop))

    with playwright_api.sync_playwright() as playwright:
        chromium = Chromium(playwright, live_server.url)
        page = chromium.page
        chromium.enter(shop)
        page.get_by_role("link", name="Rules").click()
        page.wait_for_url(f"{live_server.url}/dashboard/rules")
        assert "No rules yet" in page.locator("main").inner_text()

        chromium.tab_to("element.textContent === 'Create a rule'")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/dashboard/rules/new")

        # The kind chosen shows its own fields only.
        kind = page.get_by_label("What the rule does")
        anchors = page.get_by_label("Pin only on these products' lists (empty: everywhere)")
        partners = page.get_by_label("Never show these next to the products above, and the other way round")
        products = page.get_by_label("Products to pin, exclude or keep apart")
        assert kind.input_value() == "pin"
        assert anchors.is_visible() and products.is_visible() and partners.is_hidden()
        assert page.get_by_label("Category", exact=True).is_hidden()
        kind.select_option("exclude")
        assert anchors.is_hidden() and partners.is_hidden() and products.is_visible()
        kind.select_option("never_pair")
        assert partners.is_visible() and anchors.is_hidden()
        kind.select_option("if_then")
        assert products.is_hidden() and page.get_by_label("Category", exact=True).is_visible()
        kind.select_option("pin")
        assert anchors.is_visible()

        # An unknown product: the form comes back with the message next to the field, nothing saved.
        kind.select_option("exclude")
        page.get_by_label("Name (optional)").fill("Hide the best seller")
        products.fill("no-such-product")
        page.get_by_role("button", name="Save rule").click()
        error = page.locator("#error-product_ids")
        error.wait_for()
        assert error.inner_text() == "no product with id no-such-product in this store"
        assert page.locator("fieldset", has=products).locator(".error").inner_text() == error.inner_text()
        assert products.get_attribute("aria-invalid") == "true"
        assert products.get_attribute("aria-describedby") == "error-product_ids"
        assert products.input_value() == "no-such-product"
        assert page.get_by_role("alert").inner_text().startswith("The rule was not saved")
        assert kind.input_value() == "exclude" and anchors.is_hidden()  # the kind's fields, after the reload
        assert rules() == []
        chromium.audit(axe, "rule-form")

        # The preview shows the effect of excluding a much-recommended product, and saves nothing.
        products.fill(popular.external_id)
        page.get_by_role("button", name="Preview effect").click()
        preview = page.locator("#preview")
        preview.wait_for()
        assert preview.locator("h2").inner_text() == "Preview: what this rule would change (not saved)"
        changed = [int(text) for text in preview.locator("p > strong").all_inner_texts()]
        assert changed and max(changed) > 0
        example = preview.locator("details").first
        example.locator("summary").click()
        now, after = example.locator("p").all_inner_texts()
        assert popular.title in now.removeprefix("Now: ").split(", ")
        assert after.startswith("With this rule: ") and popular.title not in after
        assert rules() == []
        assert products.input_value() == popular.external_id and page.locator("#error-product_ids").count() == 0

        # Saved from the keyboard.
        chromium.tab_to("element.textContent === 'Save rule'")
        page.keyboard.press("Space")
        page.wait_for_url(f"{live_server.url}/dashboard/rules?done=created")
        assert page.get_by_role("status").inner_text() == "Rule saved. The storefront shows its effect now."
        (rule,) = rules()
        assert (rule.kind, rule.name, rule.params, rule.enabled) == (
            "exclude",
            "Hide the best seller",
            {"product_ids": [popular.pk]},
            True,
        )
        row = page.locator(f"#rule-{rule.pk}")
        assert "Hide the best seller" in row.inner_text() and row.locator("td").nth(3).inner_text() == "on"

        # The saved rule's form: its kind is fixed, and only that kind's fields show.
        row.get_by_role("link", name="Edit Hide the best seller").click()
        page.wait_for_url(f"{live_server.url}/dashboard/rules/{rule.pk}")
        assert products.input_value() == popular.external_id
        assert products.is_visible() and anchors.is_hidden() and partners.is_hidden()
        chromium.check_wcag(axe, "rule-edit")
        page.get_by_role("link", name="Back to the rules").click()
        page.wait_for_url(f"{live_server.url}/dashboard/rules")

        row.get_by_role("button", name="Switch off rule 1").click()
        page.wait_for_url(f"{live_server.url}/dashboard/rules?done=disabled")
        assert page.get_by_role("status").inner_text().startswith("Rule switched off.")
        assert row.locator("td").nth(3).inner_text() == "off"
        assert row.get_by_role("button", name="Switch on rule 1").is_visible()
        assert rules()[0].enabled is False
        chromium.audit(axe, "rules")

        # Deleting asks first: dismissed, nothing happens; accepted, the rule is gone.
        chromium.answer_dialogs(accept=False)
        row.get_by_role("button", name="Delete rule 1").click()
        page.wait_for_timeout(300)
        assert page.url == f"{live_server.url}/dashboard/rules?done=disabled" and len(rules()) == 1
        chromium.answer_dialogs(accept=True)
        row.get_by_role("button", name="Delete rule 1").click()
        page.wait_for_url(f"{live_server.url}/dashboard/rules?done=deleted")
        assert chromium.dialogs == ["Delete this rule?", "Delete this rule?"]
        assert page.get_by_role("status").inner_text() == "Rule deleted."
        assert "No rules yet" in page.locator("main").inner_text() and row.count() == 0
        assert rules() == []

        chromium.assert_clean(refused_forms=1)
        chromium.browser.close()


@pytest.mark.services("postgres", "chromium")
def test_experiments_are_created_refused_when_overlapping_and_stopped_in_the_browser(
    live_server, transactional_db, browser_api
):
    from tests.factories import make_shop

    playwright_api, axe = browser_api
    shop = make_shop(domain="dash-experiments-browser.localhost")

    def experiments() -> list[Experiment]:
        def read() -> list[Experiment]:
            with shop_scope(shop):
                return list(Experiment.objects.order_by("pk"))

        return off_the_browser_loop(read)

    with playwright_api.sync_playwright() as playwright:
        chromium = Chromium(playwright, live_server.url)
        page = chromium.page
        chromium.enter(shop)
        page.get_by_role("link", name="Experiments").click()
        page.wait_for_url(f"{live_server.url}/dashboard/experiments")
        assert "No tests yet." in page.locator("main").inner_text()
        assert page.get_by_label("Block").input_value() == "bought_together"
        assert page.get_by_label("Arm A shows").input_value() == "model"
        assert page.get_by_label("Arm B shows").input_value() == "popular"

        # Created from the keyboard.
        page.get_by_label("Name").fill("Model or best sellers")
        chromium.tab_to("element.textContent === 'Create test'")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{live_server.url}/dashboard/experiments?done=created")
        assert page.get_by_role("status").inner_text().startswith("Test scheduled.")
        (first,) = experiments()
        assert [(arm["strategy"], arm["weight"]) for arm in first.arms] == [("model", 50), ("popular", 50)]
        listed = page.locator(f'section[aria-labelledby="experiment-{first.pk}"]')
        assert listed.locator("h2").inner_text() == "Model or best sellers (Frequently bought together)"
        assert listed.locator("p strong").first.inner_text() == "Running"
        assert listed.locator("tbody tr").count() == 2
        stop = listed.get_by_role("button", name="Stop Model or best sellers")
        assert stop.is_visible() and stop.inner_text() == "Stop without a verdict"
        assert "Verdict" not in listed.inner_text()

        # A second test on the same block while the first runs: refused next to the block field.
        later = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
        page.get_by_label("Name").fill("Second")
        page.get_by_label("Start (empty: now)").fill(later)
        page.get_by_role("button", name="Create test").click()
        error = page.locator("#error-block")
        error.wait_for()
        assert error.inner_text().startswith("overlaps “Model or best sellers” on the same block")
        block = page.get_by_label("Block")
        assert block.get_attribute("aria-invalid") == "true"
        assert block.get_attribute("aria-describedby") == "error-block"
        assert page.get_by_label("Name").input_value() == "Second"
        assert page.get_by_label("Start (empty: now)").input_value() == later
        assert page.get_by_role("alert").inner_text().startswith("The test was not created")
        assert len(experiments()) == 1
        assert listed.get_by_role("button", name="Stop Model or best sellers").is_visible()
        chromium.audit(axe, "experiments")

        # Stopping asks first, then gives up the verdict.
        chromium.answer_dialogs(accept=True)
        page.goto(f"{live_server.url}/dashboard/experiments")
        listed.get_by_role("button", name="Stop Model or best sellers").click()
        page.wait_for_url(f"{live_server.url}/dashboard/experiments?done=stopped")
        assert chromium.dialogs == ["Stop this test? It will end without a verdict."]
        assert page.get_by_role("status").inner_text().startswith("Test stopped.")
        assert listed.locator("p strong").first.inner_text() == "Stopped"
        assert "Stopped early: no verdict" in listed.locator(".verdict").inner_text()
        assert listed.get_by_role("button").count() == 0
        assert experiments()[0].stopped_at is not None
        chromium.check_wcag(axe, "experiments-stopped")

        chromium.assert_clean(refused_forms=1)
        chromium.browser.close()
