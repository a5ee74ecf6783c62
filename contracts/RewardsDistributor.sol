// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title RewardsDistributor: epoch reward roots of the cor-incentives engine, claimable on chain
/// @notice For each posted epoch it holds the Merkle root of the epoch's `(account, epoch, amount)`
///         leaves (OpenZeppelin StandardMerkleTree, double-hashed), the claimable total it was funded
///         with, and the anchor `(seq, head hash)` of the engine's event log that the root comes from.
///         Only the owner (the publisher; it can be a multisig) posts, and a posted epoch never changes.
///         A claim pays `account` once per epoch; anyone may submit it. Each epoch pays out at most
///         its own total, so a wrong root can never spend another epoch's funds.
contract RewardsDistributor is Ownable2Step {
    using SafeERC20 for IERC20;

    struct Epoch {
        bytes32 root;          // zero until posted
        uint256 total;         // tokens funded for this epoch's unclaimed leaves
        uint256 claimed;       // paid out so far (never above total)
        uint64 anchorSeq;      // the log event the root is anchored to ...
        uint64 postedBlock;    // ... and the block the post landed in
        bytes32 anchorHash;    // that event's hash (the log head at the anchor)
    }

    IERC20 public immutable token;
    mapping(uint256 epoch => Epoch) private _epochs;
    mapping(uint256 epoch => mapping(address account => bool)) public isClaimed;
    uint256[] private _postedEpochs;

    event EpochPosted(
        uint256 indexed epoch, bytes32 root, uint256 total, uint64 anchorSeq, bytes32 anchorHash, uint256 claimedOffchain
    );
    event Claimed(uint256 indexed epoch, address indexed account, uint256 amount, address sender);

    error EmptyRoot();
    error EpochAlreadyPosted(uint256 epoch);
    error EpochNotPosted(uint256 epoch);
    error AlreadyClaimed(uint256 epoch, address account);
    error InvalidProof(uint256 epoch, address account, uint256 amount);
    error EpochTotalExceeded(uint256 epoch, uint256 claimed, uint256 total);

    constructor(IERC20 token_, address publisher) Ownable(publisher) {
        token = token_;
    }

    /// @notice Post an epoch: root, funded total and log anchor; the leaves of `claimedOffchain`
    ///         were already paid by the engine before the epoch moved on chain, so they are marked
    ///         claimed here. Pulls `total` tokens from the publisher (approve first).
    function postEpoch(
        uint256 epoch,
        bytes32 root,
        uint256 total,
        uint64 anchorSeq,
        bytes32 anchorHash,
        address[] calldata claimedOffchain
    ) external onlyOwner {
        if (root == bytes32(0)) revert EmptyRoot();
        Epoch storage e = _epochs[epoch];
        if (e.root != bytes32(0)) revert EpochAlreadyPosted(epoch);
        e.root = root;
        e.total = total;
        e.anchorSeq = anchorSeq;
        e.anchorHash = anchorHash;
        e.postedBlock = uint64(block.number);
        for (uint256 i = 0; i < claimedOffchain.length; ++i) {
            isClaimed[epoch][claimedOffchain[i]] = true;
        }
        _postedEpochs.push(epoch);
        emit EpochPosted(epoch, root, total, anchorSeq, anchorHash, claimedOffchain.length);
        token.safeTransferFrom(msg.sender, address(this), total);
    }

    /// @notice Pay `amount` to `account` for `epoch` against the Merkle `proof` of the leaf
    ///         `keccak256(bytes.concat(keccak256(abi.encode(account, epoch, amount))))`. Once per account and epoch.
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof) external {
        Epoch storage e = _epochs[epoch];
        if (e.root == bytes32(0)) revert EpochNotPosted(epoch);
        if (isClaimed[epoch][account]) revert AlreadyClaimed(epoch, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, epoch, amount))));
        if (!MerkleProof.verifyCalldata(proof, e.root, leaf)) revert InvalidProof(epoch, account, amount);
        isClaimed[epoch][account] = true;
        uint256 claimed = e.claimed + amount;
        if (claimed > e.total) revert EpochTotalExceeded(epoch, claimed, e.total);
        e.claimed = claimed;
        emit Claimed(epoch, account, amount, msg.sender);
        token.safeTransfer(account, amount);
    }

    /// @notice Everything stored for an epoch (root zero: not posted).
    function epochInfo(uint256 epoch) external view returns (Epoch memory) {
        return _epochs[epoch];
    }

    function isPosted(uint256 epoch) external view returns (bool) {
        return _epochs[epoch].root != bytes32(0);
    }

    /// @notice How many epochs were posted; `postedEpochAt(i)` lists them in posting order.
    function postedEpochCount() external view returns (uint256) {
        return _postedEpochs.length;
    }

    function postedEpochAt(uint256 index) external view returns (uint256) {
        return _postedEpochs[index];
    }
}
