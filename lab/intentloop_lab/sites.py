"""What a traffic tool needs to use a customer site: its VLAN interfaces.

A site is a namespace whose `interface` is the far end of a router's customer port. A
service VLAN on that port travels the way `lab.json` says (`vlan_encapsulation`): this
lab carries a VLAN on one port as a VXLAN header scoped to that port (the kernels the lab
runs on may lack 802.1Q), so the site's "VLAN interface" is a VXLAN device towards the
router's end of the port. Give it an address and the site speaks plain IP over the service.
"""

from __future__ import annotations

import hashlib
import subprocess

from intentloop_lab import netplan
from intentloop_lab.labstate import SiteInfo

VXLAN_PORT = 4789


def vlan_interface_name(site: SiteInfo, vlan: int) -> str:
    return f"{site.interface}.{vlan}"


def vlan_mac(site: SiteInfo, vlan: int) -> str:
    """The MAC address of the site's interface on `vlan`: the same every time it is made, as
    a customer's router keeps its own (a routed service's provider edge caches it: a new
    one each time would go unanswered until that cache entry expired)."""
    digest = hashlib.sha256(f"{site.netns}/{vlan}".encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02, *digest[:5]))  # locally administered, unicast


def vlan_commands(site: SiteInfo, vlan: int, name: str | None = None) -> list[str]:
    """`ip -batch` lines (run in `site.netns`) that create and raise the site's VLAN `vlan`."""
    if not 1 <= vlan <= 4094:
        raise ValueError(f"vlan: {vlan} is not a VLAN id (1..4094)")
    device = name or vlan_interface_name(site, vlan)
    return [
        f"link add {device} address {vlan_mac(site, vlan)} type vxlan "
        f"id {netplan.vni(site.attachment, vlan)} "
        f"local {site.address} remote {site.router_address} dev {site.interface} "
        f"dstport {VXLAN_PORT} nolearning",
        f"link set dev {device} up",
    ]


def add_vlan_interface(site: SiteInfo, vlan: int, name: str | None = None) -> str:
    """Create the site's interface on VLAN `vlan`; returns its name."""
    device = name or vlan_interface_name(site, vlan)
    script = "\n".join(vlan_commands(site, vlan, device)) + "\n"
    done = subprocess.run(
        ["ip", "-n", site.netns, "-batch", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"site {site.netns}: cannot add VLAN {vlan}: {done.stderr.strip()}")
    return device
