<?php
/**
 * trackside for PrestaShop 1.7.8 to 9 (PHP 7.4 to 8.3): the browser tag on every page with
 * the cookie banner's consent, signed join tokens and the signed purchase on the order
 * confirmation page, and (optional) the paid order pushed to the gateway at once.
 * What it renders comes from lib/trackside_functions.php (plain PHP, testable alone).
 * Hooks: https://devdocs.prestashop-project.org/9/modules/concepts/hooks/list-of-hooks/
 */

if (!defined('_PS_VERSION_')) {
    exit;
}

require_once __DIR__ . '/lib/trackside_functions.php';

class Trackside extends Module
{
    /** Configuration keys (ps_configuration); the signing and API keys are never rendered. */
    const GATEWAY = 'TRACKSIDE_GATEWAY_URL';
    const SIGNING_KEY = 'TRACKSIDE_SIGNING_KEY';
    const PREFIX = 'TRACKSIDE_SHOP_PREFIX';
    const PUSH = 'TRACKSIDE_PUSH';
    const API_KEY = 'TRACKSIDE_API_KEY';

    public function __construct()
    {
        $this->name = 'trackside';
        $this->tab = 'analytics_stats';
        $this->version = '1.0.0';
        $this->author = 'trackside';
        $this->need_instance = 0;
        $this->ps_versions_compliancy = array('min' => '1.7.8.0', 'max' => '9.99.99');
        $this->bootstrap = true;
        parent::__construct();
        $this->displayName = $this->l('trackside');
        $this->description = $this->l('Server-side conversion tracking: the trackside tag with consent, signed purchases and order push.');
    }

    public function install()
    {
        return parent::install()
            && $this->registerHook('displayHeader')
            && $this->registerHook('displayOrderConfirmation')
            && $this->registerHook('actionOrderStatusPostUpdate');
    }

    public function uninstall()
    {
        foreach (array(self::GATEWAY, self::SIGNING_KEY, self::PREFIX, self::PUSH, self::API_KEY) as $key) {
            Configuration::deleteByName($key);
        }
        return parent::uninstall();
    }

    /** What lib/trackside_functions.php needs to render (the key signs, it is not printed). */
    private function snippetConfig()
    {
        return array(
            'gateway' => (string) Configuration::get(self::GATEWAY),
            'signing_key' => (string) Configuration::get(self::SIGNING_KEY),
        );
    }

    // -- configuration page --------------------------------------------------------------------

    public function getContent()
    {
        $output = '';
        if (Tools::isSubmit('submitTrackside')) {
            $gateway = trim((string) Tools::getValue(self::GATEWAY));
            if ($gateway !== '' && !preg_match('#^(https?://[^\s"\'<>]+|/[^\s"\'<>]*)$#i', $gateway)) {
                $output .= $this->displayError($this->l('Gateway URL: an https:// URL or a path on this shop such as /tr.'));
            } else {
                Configuration::updateValue(self::GATEWAY, $gateway);
                Configuration::updateValue(self::PREFIX, trim((string) Tools::getValue(self::PREFIX)));
                Configuration::updateValue(self::PUSH, (int) (bool) Tools::getValue(self::PUSH));
                // Secrets: an empty field keeps the stored value (the form never shows it).
                foreach (array(self::SIGNING_KEY, self::API_KEY) as $secret) {
                    $value = trim((string) Tools::getValue($secret));
                    if ($value !== '') {
                        Configuration::updateValue($secret, $value);
                    }
                }
                $output .= $this->displayConfirmation($this->l('Settings updated'));
            }
        }
        return $output . $this->renderForm();
    }

    private function renderForm()
    {
        $secretHint = $this->l('Stored; leave empty to keep it. Never shown in pages or here.');
        $fields = array('form' => array(
            'legend' => array('title' => $this->l('trackside gateway')),
            'input' => array(
                array('type' => 'text', 'name' => self::GATEWAY, 'label' => $this->l('Gateway URL'),
                    'desc' => $this->l('https://track.shop.example, or a path of this shop proxied to the gateway (/tr). Another origin must be listed in the gateway\'s TRACKSIDE_ALLOWED_ORIGINS.')),
                array('type' => 'password', 'name' => self::SIGNING_KEY, 'label' => $this->l('Signing key'),
                    'desc' => $this->l('The gateway\'s TRACKSIDE_SIGNING_KEY. ') . $secretHint),
                array('type' => 'text', 'name' => self::PREFIX, 'label' => $this->l('Shop prefix'),
                    'desc' => $this->l('For the push. Empty: the gateway applies its own TRACKSIDE_EVENT_ID_PREFIX; if set, it must be the same.')),
                array('type' => 'switch', 'name' => self::PUSH, 'label' => $this->l('Push paid orders'),
                    'is_bool' => true,
                    'desc' => $this->l('Post an order to the gateway when it becomes paid (1 s at most; the gateway\'s poller still reads every order).'),
                    'values' => array(
                        array('id' => 'push_on', 'value' => 1, 'label' => $this->l('Yes')),
                        array('id' => 'push_off', 'value' => 0, 'label' => $this->l('No')),
                    )),
                array('type' => 'password', 'name' => self::API_KEY, 'label' => $this->l('API key'),
                    'desc' => $this->l('One of the gateway\'s TRACKSIDE_API_KEYS, for the push. ') . $secretHint),
            ),
            'submit' => array('title' => $this->l('Save')),
        ));
        $helper = new HelperForm();
        $helper->module = $this;
        $helper->name_controller = $this->name;
        $helper->token = Tools::getAdminTokenLite('AdminModules');
        $helper->currentIndex = AdminController::$currentIndex . '&configure=' . $this->name;
        $helper->default_form_language = (int) Configuration::get('PS_LANG_DEFAULT');
        $helper->submit_action = 'submitTrackside';
        $helper->fields_value = array(
            self::GATEWAY => (string) Configuration::get(self::GATEWAY),
            self::SIGNING_KEY => '',
            self::PREFIX => (string) Configuration::get(self::PREFIX),
            self::PUSH => (int) Configuration::get(self::PUSH),
            self::API_KEY => '',
        );
        return $helper->generateForm(array($fields));
    }

    // -- front office ----------------------------------------------------------------------------

    public function hookDisplayHeader($params)
    {
        $cart = $this->context->cart;
        $customer = $this->context->customer;
        $page = array(
            'cart_id' => ($cart && $cart->id) ? (int) $cart->id : 0,
            'customer_id' => ($customer && $customer->isLogged()) ? (int) $customer->id : 0,
        );
        $this->context->smarty->assign('trackside_snippet',
            trackside_header_snippet($this->snippetConfig(), $page));
        return $this->display(__FILE__, 'views/templates/hook/header.tpl');
    }

    public function hookDisplayOrderConfirmation($params)
    {
        $order = isset($params['order']) ? $params['order'] : null;
        if (!Validate::isLoadedObject($order)) {
            return '';
        }
        $currency = new Currency((int) $order->id_currency);
        $this->context->smarty->assign('trackside_snippet', trackside_confirmation_snippet(
            $this->snippetConfig(), $this->orderFacts($order, (string) $currency->iso_code, false)));
        return $this->display(__FILE__, 'views/templates/hook/confirmation.tpl');
    }

    /**
     * Push a paid order at once. Never blocks or fails the status change: 1 s at most, every
     * error swallowed; the gateway's poller reads the order anyway, under the same event id.
     */
    public function hookActionOrderStatusPostUpdate($params)
    {
        try {
            if (!Configuration::get(self::PUSH)) {
                return;
            }
            $state = isset($params['newOrderStatus']) ? $params['newOrderStatus'] : null;
            if (!is_object($state) || !($state->paid || $state->logable)) {
                return;
            }
            $order = new Order((int) $params['id_order']);
            if (!Validate::isLoadedObject($order)) {
                return;
            }
            $currency = new Currency((int) $order->id_currency);
            $facts = $this->orderFacts($order, (string) $currency->iso_code, true);
            $payload = trackside_push_payload((string) Configuration::get(self::PREFIX), $facts);
            trackside_push((string) Configuration::get(self::GATEWAY),
                (string) Configuration::get(self::API_KEY), $payload, 1.0,
                rtrim(Tools::getShopDomainSsl(true), '/'));
        } catch (\Throwable $e) {
            // The checkout comes first; the poller is the safety net.
        }
    }

    /** The checkout of $order (every order of its reference, as the gateway's poller sums). */
    private function orderFacts($order, $currencyIso, $withCustomer)
    {
        $value = 0.0;
        $items = array();
        $orders = Order::getByReference($order->reference);
        foreach ($orders as $one) {
            if ((int) $one->id_currency !== (int) $order->id_currency) {
                continue;
            }
            $value += (float) $one->total_paid_tax_incl;
            foreach ($one->getProducts() as $line) {
                $id = (string) $line['product_id'];
                if (!empty($line['product_attribute_id'])) {
                    $id .= '-' . $line['product_attribute_id'];
                }
                $items[] = array('id' => $id, 'name' => (string) $line['product_name'],
                    'price' => round((float) $line['unit_price_tax_incl'], 2),
                    'quantity' => (int) $line['product_quantity']);
            }
        }
        $facts = array(
            'reference' => (string) $order->reference,
            'value' => round($value, 2),
            'currency' => $currencyIso,
            'cart_id' => (int) $order->id_cart,
            'customer_id' => (int) $order->id_customer,
            'items' => $items,
        );
        if ($withCustomer) {
            $customer = new Customer((int) $order->id_customer);
            $address = new Address((int) ($order->id_address_invoice ?: $order->id_address_delivery));
            $facts['email'] = (string) $customer->email;
            $facts['first_name'] = (string) $customer->firstname;
            $facts['last_name'] = (string) $customer->lastname;
            $facts['phone'] = (string) ($address->phone_mobile ?: $address->phone);
            $facts['city'] = (string) $address->city;
            $facts['zip'] = (string) $address->postcode;
            $facts['country'] = (string) Country::getIsoById((int) $address->id_country);
            $facts['url'] = $this->context->link->getPageLink('order-confirmation', true, null,
                array('id_cart' => (int) $order->id_cart, 'id_order' => (int) $order->id));
        }
        return $facts;
    }
}
