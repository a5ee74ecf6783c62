"""The dashboard shows each epoch's on-chain status with its transaction hash and block (real
`cor serve`, real Hardhat chain, epochs posted by the publisher through the signed API, as the
devnet's oracle does)."""

from __future__ import annotations

import httpx

from cor_incentives.chain.deploy import DEV_ETH_WEI, deploy
from cor_incentives.chain.publisher import ApiLog, Publisher
from cor_incentives.chain.rpc import Chain
from cor_incentives.nodes.link import Link
from support.network import make_network
from support.server import start_server, stop_server


def test_epoch_pages_show_payout_path_tx_and_block(tmp_path, hardhat):
    url = f"sqlite:///{tmp_path / 'cor.db'}"
    engine, keys = make_network(url, tmp_path / "keys", n_miners=2, n_validators=1)
    oracle = keys["oracle"]
    for _ in range(2):
        engine.submit_as(oracle, "epoch.close", {})
    chain = Chain(hardhat.rpc_url)
    chain.set_balance(oracle.address, DEV_ETH_WEI)
    d = deploy(chain, oracle.private_key, oracle.address, engine.state.genesis_supply)

    server = start_server(url, tmp_path / "serve.log")
    link = Link(server.base_url, oracle.private_key)
    try:
        posted = Publisher(ApiLog(link), chain, d.distributor, oracle).publish()
        assert [(p.epoch, p.action) for p in posted] == [(0, "posted"), (1, "posted")]
        assert Publisher(ApiLog(link), chain, d.distributor, oracle).publish() == []
        link.submit("epoch.close", {})  # epoch 2: closed, not posted
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            listing = http.get("/epochs").text
            for p in posted:
                assert f'title="{p.tx_hash}"' in listing and f"block {p.block}" in listing
            page = http.get("/epochs/1").text
            assert 'id="onchain-tx">' + posted[1].tx_hash in page and f'id="onchain-block">{posted[1].block}<' in page
            assert d.distributor in page and 'class="badge posted"' in page
            assert "not posted to an EVM chain" in http.get("/epochs/2").text
            as_json = http.get("/epochs/0", params={"format": "json"}).json()
            assert as_json["payout"] == "posted"
            assert (as_json["onchain"]["tx_hash"], as_json["onchain"]["block"]) == (posted[0].tx_hash, posted[0].block)
            api = http.get("/v1/chain/epochs").json()["epochs"]
            assert [(e["epoch"], e["status"]) for e in api] == [(0, "posted"), (1, "posted"), (2, "offchain")]
    finally:
        link.close()
        stop_server(server)
