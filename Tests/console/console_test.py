#!/usr/bin/env python3
"""The web console in a real browser: headless Chromium through chromedriver (Debian's
`chromium`, `chromium-driver`), driven by Selenium (PyPI). Run by BrowserConsoleTests against a real
gateway (exec provider: the test's provision command, which fails with markup once --fail-marker
exists) and Redis.

Two tabs, two people (sessionStorage is per tab): the admin creates VMs and a user; a VM whose
provider failed with markup in its error shows it as text; the user signs in, checks out, sees
the VM and its lease counting down, renews, checks in; reserves two VMs as one reservation, sees
it (its IPs, its lease, its VMs naming it), renews and returns it; the admin's tab follows along
live, no reload; then the admin filters and pages the VMs, deletes one, changes a quota and rotates the
user's token, which signs the user's tab out. A sign-in with no token says why.

Then, with --dev-url, a gateway in development mode: the console signs in as its admin with no
token, and says so. With --readme-url, a gateway with a realistic pool (EC2-like machines, a
provider error, leases running): README's picture, console-readme.png.
Screenshots go to --screenshots (the XSS pool's are test artifacts only).
Usage: console_test.py --url URL --admin-token TOKEN --fail-marker PATH --screenshots DIR
                       [--dev-url URL] [--readme-url URL]"""
import argparse
import os
import re
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'

parser = argparse.ArgumentParser()
parser.add_argument("--url", required=True)
parser.add_argument("--admin-token", required=True)
parser.add_argument("--fail-marker", required=True)
parser.add_argument("--screenshots", required=True)
parser.add_argument("--dev-url")
parser.add_argument("--readme-url")
options = parser.parse_args()
os.makedirs(options.screenshots, exist_ok=True)

chrome = webdriver.ChromeOptions()
for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100", "--lang=en-US"):
    chrome.add_argument(argument)
chrome.set_capability("goog:loggingPrefs", {"browser": "ALL"})
service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver")
driver = webdriver.Chrome(options=chrome, service=service)
# deadlines for a broken machine, not a slow one; the page redraws its tables every 2 s, so an
# element found a moment ago may be gone: such a look is simply made again
wait = WebDriverWait(driver, 120, poll_frequency=0.1,
                     ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def text_of(element_id):
    return driver.find_element(By.ID, element_id).text


def until(what, condition):
    try:
        return wait.until(lambda _: condition())
    except Exception as error:
        driver.save_screenshot(os.path.join(options.screenshots, "failed.png"))
        raise AssertionError(f"timed out waiting until {what}") from error


def click(selector):
    """Clicks the element `selector` names, found again if a redraw replaces it meanwhile (the
    tables are redrawn every 2 s; the forms' own buttons never are)."""
    until(f"{selector} clicked", lambda: driver.find_element(By.CSS_SELECTOR, selector).click() or True)


def fill(element_id, value):
    """Types `value` into a field as a person does: focused first (the page's redraws leave a
    focused field alone; a field cleared without focus could get its old value back before the
    typing, which then appended to it), all it held replaced, and looked at again until it holds
    exactly `value`."""
    def attempt():
        field = driver.find_element(By.ID, element_id)
        field.click()
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(value)
        return field.get_attribute("value") == value
    until(f"{element_id} holds {value!r}", attempt)


def sign_in(token):
    driver.get(options.url + "/ui")
    until("the sign-in form shows", lambda: driver.find_element(By.ID, "token").is_displayed())
    fill("token", token)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    until("signed in", lambda: driver.find_element(By.ID, "mine").is_displayed())


def count(status):
    return text_of("count-" + status)


try:
    # the admin's tab
    admin_tab = driver.current_window_handle
    driver.get(options.url + "/ui")
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    until("a sign-in with no token says why", lambda: text_of("sign-in-message").startswith("Enter your token"))
    check(not driver.find_element(By.ID, "dev-mode").is_displayed(), "no development-mode note on a gateway not in it")
    fill("token", "not-a-token")
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    until("a wrong token is refused", lambda: text_of("sign-in-message") == "Unknown or revoked token")
    sign_in(options.admin_token)
    until("the admin's view shows", lambda: driver.find_element(By.ID, "admin").is_displayed())
    check(driver.current_url == options.url + "/ui", f"the token stays out of the URL: {driver.current_url}")

    fill("create-count", "3")
    driver.find_element(By.ID, "create").click()
    until("3 VMs are available", lambda: count("available") == "3")
    until("the VM table lists them", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#vms tbody tr.vm")) == 3)
    fill("cap", "10")
    driver.find_element(By.CSS_SELECTOR, "#cap-form button").click()
    until("the cap is 10", lambda: count("cap") == "10")

    fill("user-name", "alice")
    fill("user-quota", "2")
    driver.find_element(By.ID, "add-user").click()
    until("alice's token shows", lambda: driver.find_element(By.ID, "new-token").is_displayed())
    alice = text_of("new-token-value")
    check(re.fullmatch(r"[0-9a-f]{64}", alice), f"a token: {alice!r}")
    until("alice is listed", lambda: any(row.find_element(By.CSS_SELECTOR, ".name").text == "alice"
                                         for row in driver.find_elements(By.CSS_SELECTOR, "#users tbody tr.user")))

    # a provider's error holding markup shows as text, and runs nothing
    open(options.fail_marker, "w").close()
    fill("create-count", "1")
    driver.find_element(By.ID, "create").click()
    until("the failed VM shows", lambda: count("error") == "1")
    until("its error is listed", lambda: any(cell.text.endswith(": " + XSS) for cell in driver.find_elements(By.CSS_SELECTOR, "#vms td.error-text")))
    check(driver.find_elements(By.CSS_SELECTOR, "#vms img, #vms script, #vms b, main img") == [], "markup became elements")
    check(driver.execute_script("return window.__xss") is None, "the markup ran")
    check(any(re.fullmatch(r"<b>m-[0-9a-f-]+</b>", cell.text) for cell in driver.find_elements(By.CSS_SELECTOR, "#vms td.machine")),
          "a machine id with markup shows as text")
    events = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#events td.action")]
    check("provision_failed" in events and "user_create" in events, f"recent events: {events}")
    driver.save_screenshot(os.path.join(options.screenshots, "console-admin.png"))

    # alice's tab
    driver.switch_to.new_window("tab")
    alice_tab = driver.current_window_handle
    sign_in(alice)
    check(not driver.find_element(By.ID, "admin").is_displayed(), "a user sees no admin view")
    fill("checkout-wait", "30")  # a VM is free: the waiting checkout answers at once
    driver.find_element(By.ID, "checkout").click()
    until("alice holds a VM", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#my-vms tbody tr.vm")) == 1)
    until("it says so", lambda: text_of("mine-message").startswith("Checked out "))
    def lease():
        return driver.find_element(By.CSS_SELECTOR, "#my-vms tbody tr.vm td.lease").text

    first = until("the lease shows", lease)
    check(re.fullmatch(r"(1:00:00|59:[0-5]\d)", first), f"a lease of an hour: {first!r}")
    until("the lease counts down", lambda: lease() != first and re.fullmatch(r"59:[0-5]\d", lease()))
    driver.save_screenshot(os.path.join(options.screenshots, "console-user.png"))

    # the admin's tab follows, without a reload
    driver.switch_to.window(admin_tab)
    until("the gauge shows the checkout", lambda: count("checked-out") == "1" and count("available") == "2")
    until("the VM table shows the holder", lambda: any(cell.text == "alice" for cell in driver.find_elements(By.CSS_SELECTOR, "#vms td.holder")))
    driver.save_screenshot(os.path.join(options.screenshots, "console-live.png"))

    driver.switch_to.window(alice_tab)
    click("#my-vms button.renew")
    until("renewed", lambda: text_of("mine-message").startswith("Renewed "))
    click("#my-vms button.checkin")
    until("alice holds nothing", lambda: driver.find_elements(By.CSS_SELECTOR, "#my-vms tbody tr.vm") == [])

    # two VMs as one reservation: listed with their IPs and lease, each VM naming it; renewed, then returned
    fill("checkout-count", "2")
    fill("checkout-wait", "0")
    driver.find_element(By.ID, "checkout").click()
    until("alice holds a reservation", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#my-reservations tbody tr.reservation")) == 1)
    until("it says so", lambda: text_of("mine-message").startswith("Reserved "))

    def reservation_cell(name):
        return driver.find_element(By.CSS_SELECTOR, "#my-reservations tbody tr.reservation td." + name).text

    reservation_id = until("the reservation's id shows", lambda: reservation_cell("id"))
    check(re.fullmatch(r"[0-9a-f-]{36}", reservation_id), f"a reservation id: {reservation_id!r}")
    ips = reservation_cell("ip").split(" ")
    check(len(ips) == 2 and len(set(ips)) == 2, f"two IPs: {ips}")
    check(reservation_cell("lease-end") != "—", "the lease's end shows")
    check(re.fullmatch(r"(1:00:00|59:[0-5]\d)", reservation_cell("lease")), f"a lease of an hour: {reservation_cell('lease')!r}")
    until("each of its VMs names it", lambda: sorted(
        (row.find_element(By.CSS_SELECTOR, "td.ip").text, row.find_element(By.CSS_SELECTOR, "td.reservation").text)
        for row in driver.find_elements(By.CSS_SELECTOR, "#my-vms tbody tr.vm")) == sorted((ip, reservation_id[:8]) for ip in ips))
    driver.save_screenshot(os.path.join(options.screenshots, "console-reservation.png"))
    click("#my-reservations button.renew")
    until("renewed", lambda: text_of("mine-message") == "Renewed reservation " + reservation_id[:8])
    driver.switch_to.window(admin_tab)
    until("the gauge shows the reservation", lambda: count("checked-out") == "2" and count("available") == "1")
    driver.switch_to.window(alice_tab)
    click("#my-reservations button.return")
    until("returned", lambda: text_of("mine-message") == "Returned reservation " + reservation_id[:8])
    until("alice holds no reservation", lambda: driver.find_elements(By.CSS_SELECTOR, "#my-reservations tbody tr.reservation") == []
          and driver.find_elements(By.CSS_SELECTOR, "#my-vms tbody tr.vm") == [])

    driver.switch_to.window(admin_tab)
    until("the gauge shows the checkin", lambda: count("checked-out") == "0" and count("available") == "3")

    # the admin's other actions: filter, pages, a quota, a token, a delete
    def row_of(table, cell_class, text):
        """The row whose `cell_class` cell says `text`, None while there is none."""
        return next((row for row in driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
                     if row.find_element(By.CSS_SELECTOR, "td." + cell_class).text == text), None)

    def on_row(table, cell_class, text, selector, act):
        """Does `act` to the element `selector` of the row whose `cell_class` cell says `text`,
        looking it up again when a redraw replaced the row between the look and the act."""
        def attempt():
            row = row_of(table, cell_class, text)
            return row is not None and (act(row.find_element(By.CSS_SELECTOR, selector)) or True)
        until(f"{selector} in the row of {text}", attempt)

    Select(driver.find_element(By.ID, "vm-filter")).select_by_visible_text("error")
    until("only the failed VM is listed", lambda: [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#vms td.status")] == ["error"])
    on_row("vms", "status", "error", "button.delete", lambda button: button.click())
    until("the failed VM is deleted", lambda: count("error") == "0")
    Select(driver.find_element(By.ID, "vm-filter")).select_by_visible_text("all")
    os.remove(options.fail_marker)
    fill("cap", "30")
    driver.find_element(By.CSS_SELECTOR, "#cap-form button").click()
    until("the cap is 30", lambda: count("cap") == "30")
    fill("create-count", "22")
    driver.find_element(By.ID, "create").click()
    until("25 VMs are available", lambda: count("available") == "25")
    until("a next page", lambda: driver.find_element(By.ID, "vms-next").is_enabled())
    first_page = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#vms td.id")]
    check(len(first_page) == 20, f"a page of 20: {len(first_page)}")
    driver.find_element(By.ID, "vms-next").click()
    until("the second page", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#vms td.id")) == 5)
    check(not set(c.text for c in driver.find_elements(By.CSS_SELECTOR, "#vms td.id")) & set(first_page), "pages overlap")
    driver.find_element(By.ID, "vms-first").click()
    until("the first page again", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#vms td.id")) == 20)

    def set_alices_quota():
        # typed and sent from one row: a redraw that replaces it in between makes the click fail
        # (a stale row), and the whole is done again
        row = row_of("users", "name", "alice")
        if row is None:
            return False
        field = row.find_element(By.CSS_SELECTOR, "input.quota")
        field.clear()
        field.send_keys("3")
        if field.get_attribute("value") != "3":
            return False
        row.find_element(By.CSS_SELECTOR, "button.set-quota").click()
        return True
    until("alice's quota typed and sent", set_alices_quota)
    until("alice's quota is 3", lambda: text_of("admin-message") == "Quota of alice set"
          and (row := row_of("users", "name", "alice")) is not None
          and row.find_element(By.CSS_SELECTOR, "input.quota").get_attribute("value") == "3")
    on_row("users", "name", "alice", "button.rotate", lambda button: button.click())
    until("a new token for alice", lambda: text_of("new-token-value") not in ("", alice))
    driver.switch_to.window(alice_tab)
    until("alice's old token stops working", lambda: driver.find_element(By.ID, "sign-in").is_displayed()
          and "no longer valid" in text_of("sign-in-message"))
    driver.switch_to.window(admin_tab)

    # signing out forgets the token
    driver.find_element(By.ID, "sign-out").click()
    until("signed out", lambda: driver.find_element(By.ID, "sign-in").is_displayed())
    check(driver.execute_script("return sessionStorage.getItem('vmreserve.token')") is None, "the token is forgotten")

    if options.dev_url:
        # development mode: signed in as the gateway's admin at once, with a note saying so
        driver.get(options.dev_url + "/ui")
        until("the console signs in with no token", lambda: driver.find_element(By.ID, "admin").is_displayed())
        check(driver.find_element(By.ID, "dev-mode").is_displayed(), "the development-mode note shows")
        check(text_of("who") == "admin", f"signed in as the admin: {text_of('who')!r}")

    if options.readme_url:
        # README's picture: a realistic pool, as an operator would see it
        driver.get(options.readme_url + "/ui")
        until("the sign-in form shows", lambda: driver.find_element(By.ID, "token").is_displayed())
        fill("token", options.admin_token)
        driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
        until("the admin's view of the realistic pool", lambda: driver.find_element(By.ID, "admin").is_displayed()
              and count("error") == "1" and count("checked-out") == "4")
        until("every VM is listed", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#vms tbody tr")) >= 10)
        driver.save_screenshot(os.path.join(options.screenshots, "console-readme.png"))

    # (answers of 401 and 403 are logged too, as "Failed to load resource": expected ones)
    errors = [entry for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]]
    check(errors == [], f"the browser reported errors: {errors}")
    print("console test passed")
except Exception:
    for entry in driver.get_log("browser"):
        print("browser:", entry, file=sys.stderr)
    raise
finally:
    driver.quit()
