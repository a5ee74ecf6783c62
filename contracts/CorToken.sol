// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title COR, the network's token
/// @notice A plain OpenZeppelin ERC-20 with 18 decimals and a fixed supply, minted once to `holder`
///         (on a devnet: the publisher, which funds the RewardsDistributor epoch by epoch).
contract CorToken is ERC20 {
    constructor(address holder, uint256 supply) ERC20("Cortensor", "COR") {
        _mint(holder, supply);
    }
}
